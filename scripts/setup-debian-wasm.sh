#!/usr/bin/env bash
# For machines where rustup cannot download the wasm32 standard library:
# installs Debian's Rust (with its LLVM WebAssembly backend and std sources),
# builds the wasm32 std once into Debian's sysroot, and registers the result
# with rustup as the `weasel-system` toolchain. See docs/toolchain.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "building the wasm32 standard library for Debian's Rust needs root"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web lld-22 >/dev/null

libdir=/usr/lib/rustlib/wasm32-unknown-unknown/lib
if ! ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/src"
  printf '[package]\nname = "weasel_std_seed"\nversion = "0.0.0"\nedition = "2021"\n[profile.release]\npanic = "abort"\n' >"$work/Cargo.toml"
  printf '#![no_std]\n' >"$work/src/lib.rs"
  (cd "$work" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --quiet --release \
    --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort)
  mkdir -p "$libdir"
  find "$work/target/wasm32-unknown-unknown/release/deps" -name 'lib*.rlib' ! -name 'libweasel_std_seed*' \
    -exec cp {} "$libdir/" \;
fi
rustup toolchain list | grep -q '^weasel-system' || rustup toolchain link weasel-system /usr
