#!/usr/bin/env bash
# What prompt caching saves on a three-turn 국어 conversation over a passage
# of about 2,000 tokens (server/examples/cache_bench.rs): tokens billed per
# turn, with caching on and off, through both request shapes, and the cost at
# the default list prices. Token counts, not timings: a debug build is enough.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_toolchain
cd "$ROOT"
cargo build --locked -p weasel-server --example cache_bench
exec "$TARGET_DIR/debug/examples/cache_bench" "$@"
