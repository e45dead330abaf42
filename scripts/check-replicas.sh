#!/usr/bin/env bash
# Three replicas of the server on one PostgreSQL behind nginx (round-robin,
# SSE unbuffered), driven by server/examples/replicas.rs: sessions across
# replicas, answers streaming through a rolling restart, readers moving
# between replicas, and a kill -9 mid-answer. Prints what it counts; fails
# when an answer is lost or a reader's text differs from what is stored.
#
#   scripts/check-replicas.sh [answers]      (default 500)
#
# The NOTIFY-storm measurement (issue #11: 1,000 answers, no replica more
# than a second behind) uses release builds:
#   cargo build --release -p weasel-server --bin weasel-server --example replicas
#   WEASEL_REPLICA_PROFILE=release scripts/check-replicas.sh 1000
set -euo pipefail
source "$(dirname "$0")/lib.sh"

answers="${1:-${WEASEL_REPLICA_ANSWERS:-500}}"
profile="${WEASEL_REPLICA_PROFILE:-debug}"
server="$TARGET_DIR/$profile/weasel-server"
driver="$TARGET_DIR/$profile/examples/replicas"
[ -x "$server" ] || die "no server binary at $server (cargo build -p weasel-server)"
[ -x "$driver" ] || die "no driver at $driver (cargo build -p weasel-server --example replicas)"
[ -x /usr/sbin/nginx ] || die "nginx is missing (scripts/setup.sh --test installs it)"

step "three replicas behind nginx: $answers answers, rolling restart, kill -9"
# Each open stream holds a few descriptors (reader, proxy, replica).
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# 100 ms between deltas: each answer streams for about 25 s, so the rolling
# restart happens while they stream.
"$driver" --server "$server" --nginx /usr/sbin/nginx --answers "$answers" --pace 100
