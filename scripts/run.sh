#!/usr/bin/env bash
# Sets up whatever is missing, builds the release binary and the site, and
# serves Weasel (SQLite under ./data unless DATABASE_URL says otherwise).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/setup.sh"
select_toolchain
cd "$ROOT"
WEASEL_SITE_ROOT="$SITE_ROOT" "$ROOT/scripts/build-site.sh"
step "server (release)"
cargo build --locked --release -p weasel-server
step "starting Weasel (Ctrl-C stops it)"
export WEASEL_SITE_ROOT="${WEASEL_SITE_ROOT:-$SITE_ROOT}"
exec "$TARGET_DIR/release/weasel-server"
