#!/usr/bin/env bash
# What a browser sees of many concurrent answers (server/examples/answer_bench.rs):
# the release server as a process of its own, a Bedrock emulator reached
# through WEASEL_BEDROCK_ENDPOINT_URL, readers over HTTP. Prints added
# latency per event, time-to-first-token overhead, memory per open stream,
# CPU per answer, database writes and write amplification, and the
# generator's own floor.
#
#   scripts/bench-streams.sh            # the goals: 1,000 answers of 6 KB at 25 tokens/s on
#                                       # SQLite and PostgreSQL, then 2,000 (nothing lost),
#                                       # one student (account) per answer
#   scripts/bench-streams.sh --matrix   # N = 100, 500, 1,000, 2,000 × 25 and 60 tokens/s
#                                       # × both databases, answers of 2–9 KB
#   scripts/bench-streams.sh --n 200 --db sqlite --rate 60   # any answer_bench options
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_toolchain
cd "$ROOT"
# Each stream holds a few descriptors (reader, server side, emulator).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --locked --release -p weasel-server --bin weasel-server --example answer_bench
bench="$TARGET_DIR/release/examples/answer_bench"
server=(--server "$TARGET_DIR/release/weasel-server")
case "${1:-}" in
  "")
    # One student per answer: a question's session and user are then read
    # from the database as a real student's would be (auth::cache keeps
    # them only a few seconds), not served from memory to a shared account.
    "$bench" "${server[@]}" --n 1000 --bytes 6000 --rate 25 --db sqlite,postgres --students 1000
    "$bench" "${server[@]}" --n 2000 --bytes 2000-9000 --rate 25 --db sqlite,postgres --no-floor --students 2000
    ;;
  --matrix)
    exec "$bench" "${server[@]}" --n 100,500,1000,2000 --rate 25,60 --db sqlite,postgres --bytes 2000-9000
    ;;
  *) exec "$bench" "${server[@]}" "$@" ;;
esac
