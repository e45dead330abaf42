#!/usr/bin/env bash
# Concurrent answer streams through the real server and the Bedrock emulator:
# prints added latency per streamed event (p50/p99) and memory per open stream.
#   scripts/bench-streams.sh            # N = 100 and 1000
#   scripts/bench-streams.sh 50 200     # other sizes
#   scripts/bench-streams.sh --postgres 100 1000   # on PostgreSQL (a database made and dropped)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_toolchain
cd "$ROOT"
# Each stream holds a few sockets (browser side, server side, emulator).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --locked --release -p weasel-server --example stream_bench
exec "$TARGET_DIR/release/examples/stream_bench" "$@"
