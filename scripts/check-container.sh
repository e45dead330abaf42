#!/usr/bin/env bash
# Proves the one-container layout without Docker: copies exactly what the
# image holds (the server binary and the site) into an empty directory, starts
# it there with only the environment the Dockerfile sets (paths moved under
# that directory, free ports) plus the one secret the docs say to pass, then
# checks pages, assets, /readyz, /metrics, the healthcheck command and a
# clean SIGTERM. Also prints the size of the image's own content.
#
#   scripts/check-container.sh [server-binary] [site-dir]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

binary="${1:-$TARGET_DIR/debug/weasel-server}"
site="${2:-$SITE_ROOT}"
[ -x "$binary" ] || die "no server binary at $binary (cargo build -p weasel-server)"
[ -f "$site/output-name" ] || die "no site at $site (scripts/build-site.sh)"
name="$(cat "$site/output-name")"

step "one-container layout from an empty directory"
root="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
mkdir -p "$root/app" "$root/data"
cp "$binary" "$root/app/weasel-server"
cp -R "$site" "$root/app/site"

port="$(free_port)"
metrics_port="$(free_port)"

# The Dockerfile's ENV lines, with the image's paths and ports mapped here.
environment=()
while IFS= read -r assignment; do
  assignment="${assignment//\/app/$root/app}"
  assignment="${assignment//\/data/$root/data}"
  assignment="${assignment//0.0.0.0:8080/127.0.0.1:$port}"
  assignment="${assignment//0.0.0.0:9100/127.0.0.1:$metrics_port}"
  environment+=("$assignment")
done < <(sed -n 's/^ENV \([A-Z_]*=.*\)$/\1/p' "$ROOT/Dockerfile")
[ ${#environment[@]} -ge 5 ] || die "could not read the ENV lines of the Dockerfile"
environment+=("WEASEL_SESSION_KEY=$(head -c 64 /dev/urandom | base64 -w0)")
# Required in production; nothing here sends mail, so no server listens there.
environment+=("WEASEL_SMTP_URL=smtp://127.0.0.1:25")
note "environment: ${environment[*]%%=*}"

run() { (cd "$root" && env -i "${environment[@]}" "$@"); }
log="$root/server.log"
(cd "$root" && exec env -i "${environment[@]}" ./app/weasel-server) >"$log" 2>&1 &
server_pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; die "the server exited during start-up"; }
  sleep 0.2
done

fail() { cat "$log" >&2; die "$*"; }
expect() { # url, expected status, expected content type prefix, [text the body must hold]
  local body="$root/body" status type
  status="$(curl -s -o "$body" -w '%{http_code}' "$1")"
  type="$(curl -s -o /dev/null -w '%{content_type}' "$1")"
  [ "$status" = "$2" ] || fail "$1 answered $status, not $2"
  case "$type" in "$3"*) ;; *) fail "$1 has content type '$type', not $3" ;; esac
  if [ -n "${4:-}" ]; then grep -qF -- "$4" "$body" || fail "$1 lacks '$4'"; fi
  note "$2 $type  $1"
}
expect "$base/readyz" 200 application/json '"ready"'
expect "$base/" 200 text/html "/pkg/$name.js"
expect "$base/sign-in" 200 text/html '<form'
# The sign-in page's code is a piece of the wasm, fetched by the loader.
expect "$base/pkg/${name%/*}/__wasm_split.js" 200 text/javascript
piece="$(cd "$site/pkg/${name%/*}" && ls split_account_page_*.wasm | head -1)"
[ -n "$piece" ] || fail "no piece of the wasm for the account pages in $site/pkg/${name%/*}"
expect "$base/pkg/${name%/*}/$piece" 200 application/wasm
expect "$base/pkg/$name.js" 200 text/javascript
expect "$base/pkg/${name}_bg.wasm" 200 application/wasm
expect "$base/pkg/$name.css" 200 text/css
# Precompressed, and kept by browsers: the name changes with the content.
curl -s -D - -o /dev/null -H 'Accept-Encoding: br' "$base/pkg/${name}_bg.wasm" | grep -qi '^content-encoding: br' ||
  fail "the wasm is not served as brotli"
curl -s -D - -o /dev/null "$base/pkg/$name.css" | grep -qi '^cache-control: public, max-age=31536000, immutable' ||
  fail "the stylesheet is not cached as immutable"
expect "$base/favicon.svg" 200 image/svg+xml
expect "$base/no-such-page" 404 text/html
expect "http://127.0.0.1:$metrics_port/metrics" 200 text/plain 'weasel_http_requests_total'
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = 404 ] || fail "/metrics is public"
note "404 on the public port: /metrics"
run ./app/weasel-server healthcheck || fail "the healthcheck command failed"
note "healthcheck command: ok"
[ -f "$root/data/weasel.db" ] || fail "SQLite was not created under WEASEL_DATA_DIR"
grep -q '"level":"INFO"' "$log" || fail "logs are not JSON"

kill -TERM "$server_pid"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$server_pid" 2>/dev/null; then fail "still running 10 s after SIGTERM"; fi
wait "$server_pid" || fail "exited with status $? after SIGTERM"
server_pid=""
note "SIGTERM: clean exit"

stripped="$root/stripped"
strip -o "$stripped" "$binary" 2>/dev/null || cp "$binary" "$stripped"
binary_kb=$(($(stat -c %s "$stripped") / 1024))
site_kb="$(du -sk "$site" | cut -f1)"
note "image content: server ${binary_kb} KiB stripped ($(basename "$(dirname "$binary")") build) + site ${site_kb} KiB"
