#!/usr/bin/env bash
# Fuzzes the answer renderer for a bounded time: arbitrary text is rendered
# (and separately sanitized), parsed as a browser would (html5ever), and any
# element, attribute, URL scheme or node outside the allow-list fails the run.
# It starts from the committed corpus (fuzz/corpus/render) and leaves it as it
# is; to keep what a long run found, minimise into it with `cargo fuzz cmin`.
#
#   scripts/fuzz.sh            # 60 s
#   WEASEL_FUZZ_SECONDS=600 scripts/fuzz.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds="${WEASEL_FUZZ_SECONDS:-60}"

step "fuzz: renderer allow-list (${seconds} s)"
# libFuzzer needs a nightly compiler (sanitizer flags) and cargo-fuzz.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  note "installing a nightly Rust for cargo-fuzz"
  rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  note "installing cargo-fuzz; takes a few minutes"
  cargo install cargo-fuzz --locked --quiet
fi
cd "$ROOT/fuzz"
# Its own target directory, beside the workspace's, so warm machines stay warm.
cargo +nightly fuzz build -O --target-dir "$TARGET_DIR/fuzz" render
mkdir -p artifacts/render
# New inputs go to a scratch directory, removed afterwards.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log="$work.log"
status=0
cargo +nightly fuzz run -O --target-dir "$TARGET_DIR/fuzz" render "$work" corpus/render -- \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done|INFO: seed corpus)|panicked|outside|SUMMARY|Test unit written' "$log" || true
rm -f "$log"
[ "$status" -eq 0 ] || die "the fuzzer found output outside the allow-list (input saved under fuzz/artifacts/render)"
note "no output outside the allow-list"
