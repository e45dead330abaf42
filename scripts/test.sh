#!/usr/bin/env bash
# Sets up whatever is missing, then runs every check and test Weasel has:
# formatting, the deployment files' static checks, clippy for the server and
# the browser builds, unit and integration tests on SQLite and PostgreSQL,
# a bounded fuzzing run of the answer renderer,
# Playwright in Chromium, and the one-container start.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
started=$SECONDS

"$ROOT/scripts/setup.sh" --test
select_toolchain
cd "$ROOT"

step "cargo fmt"
cargo fmt --all -- --check

# Dockerfile, k8s/, terraform/, CI definitions: seconds, so they go first.
"$ROOT/scripts/check-deploy.sh"

# Never one clippy run for the whole workspace: that would enable the `ssr`
# and `hydrate` features of the app together.
step "clippy: server (ssr)"
cargo clippy --locked -p weasel-server -p weasel-app -p weasel-render -p mail-sink -p oauth-mock -p bedrock-emulator --all-targets -- -D warnings
step "clippy: browser (hydrate, wasm32)"
cargo clippy --locked -p weasel-frontend --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests (SQLite and PostgreSQL)"
# The image store's S3 adapter is tested against a real S3-compatible
# server on loopback (moto, from the pinned tools).
export WEASEL_TEST_S3_ENDPOINT="http://127.0.0.1:5055"
if ! curl -fsS -o /dev/null "$WEASEL_TEST_S3_ENDPOINT/moto-api/" 2>/dev/null; then
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p 5055 > "$CACHE_DIR/moto.log" 2>&1 &
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "$WEASEL_TEST_S3_ENDPOINT/moto-api/" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null "$WEASEL_TEST_S3_ENDPOINT/moto-api/" || die "moto (S3) did not start; see $CACHE_DIR/moto.log"
fi
cargo test --locked -p weasel-server -p weasel-app -p weasel-render -p mail-sink -p oauth-mock -p bedrock-emulator

# The renderer against a real HTML parser, for a bounded time.
"$ROOT/scripts/fuzz.sh"

"$ROOT/scripts/build-site.sh"

step "end to end: Playwright in Chromium"
cargo build --locked -p weasel-server -p oauth-mock -p mail-sink
cargo build --locked -p weasel-server --example replicas
(cd end2end && npx --no-install tsc -p .)
(
  cd end2end
  WEASEL_E2E_PORT="$(free_port)" WEASEL_E2E_OAUTH_PORT="$(free_port)" \
    WEASEL_E2E_SMTP_PORT="$(free_port)" WEASEL_E2E_MAIL_PORT="$(free_port)" \
    WEASEL_SERVER_BIN="$TARGET_DIR/debug/weasel-server" WEASEL_OAUTH_MOCK_BIN="$TARGET_DIR/debug/oauth-mock" \
    WEASEL_MAIL_SINK_BIN="$TARGET_DIR/debug/mail-sink" \
    WEASEL_SITE_ROOT="$SITE_ROOT" npx --no-install playwright test
)

# Three server processes on one PostgreSQL behind nginx: rolling restart,
# kill -9, reconnects across replicas.
"$ROOT/scripts/check-replicas.sh"

# The image's content, started from an empty directory.
"$ROOT/scripts/check-container.sh" "$TARGET_DIR/debug/weasel-server" "$SITE_ROOT"
# The same, as the real runtime image under podman.
"$ROOT/scripts/check-image.sh" "$TARGET_DIR/debug/weasel-server" "$SITE_ROOT"

step "all tests passed in $((SECONDS - started)) s"
