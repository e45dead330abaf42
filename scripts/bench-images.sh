#!/usr/bin/env bash
# What photo uploads cost the server (server/examples/image_bench.rs): the
# release server as its own process, a 4000×3000 JPEG uploaded unshrunk,
# one at a time and 20 at once; prints times and the server's peak memory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_toolchain
cd "$ROOT"
cargo build --locked --release -p weasel-server --bin weasel-server --example image_bench
"$TARGET_DIR/release/examples/image_bench" --server "$TARGET_DIR/release/weasel-server"
