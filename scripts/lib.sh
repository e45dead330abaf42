# Shared by the scripts in this directory: paths, logging and the Rust
# toolchain choice. Sourced, never run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
export CARGO_TARGET_DIR="$TARGET_DIR"
SITE_ROOT="$TARGET_DIR/site"
# The deployment checkers (a Python venv, kubectl) live outside the checkout,
# like target/, so a fresh clone on a warm machine reuses them.
CACHE_DIR="${WEASEL_CACHE_DIR:-$HOME/.cache/weasel}"
VENV="$CACHE_DIR/venv"
KUBECTL="$CACHE_DIR/bin/kubectl"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# A port free now, below Linux's range for outgoing connections (32768 and
# up), so that no process's own connection can take it before its server listens.
free_port() { python3 -c 'import random, socket
for _ in range(1000):
    port, s = random.randrange(20000, 32000), socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break'; }

# Where rustup's own wasm32 standard library cannot be downloaded, setup.sh
# builds one for Debian's Rust (see docs/toolchain.md) and registers it with
# rustup as `weasel-system`; every script then uses that toolchain for both
# the server and the wasm build, so they share one target/ directory.
select_toolchain() {
  local sysroot
  sysroot="$(rustc --print sysroot 2>/dev/null)" || die "Rust is missing: install rustup from https://rustup.rs"
  if ls "$sysroot"/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
    return 0
  fi
  if rustup toolchain list 2>/dev/null | grep -q '^weasel-system' &&
    ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
    export RUSTUP_TOOLCHAIN=weasel-system
  fi
}

# The wasm-bindgen version the lock file pins; the CLI must match it exactly.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock"
}
