#!/usr/bin/env bash
# Builds the browser side into $CARGO_TARGET_DIR/site, the way cargo-leptos
# does with `--split`: the `hydrate` wasm (size-optimised profile), cut into
# the main file and the pieces lazy pages load (wasm-split), wasm-bindgen's
# JS glue, wasm-opt, the stylesheet and the public assets.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_toolchain

name=weasel
pkg="$SITE_ROOT/pkg"
wasm_in="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/weasel_frontend.wasm"

step "wasm (hydrate)"
# A panic in the browser stops the wasm at once (`-Cpanic=immediate-abort`),
# without formatting a message nobody sees: the standard library is built
# again with that strategy (`-Zbuild-std`, from the toolchain's `rust-src`,
# which setup.sh installs), and file names and line numbers of panics are
# left out (`-Zlocation-detail=none`). That is 19 KB brotli less of the 200 KB
# a first visit may download (issue #14). The page recovers from such a stop
# as from a missing piece: it loads itself again (`HydrationScript`).
# RUSTC_BOOTSTRAP lets the stable toolchain take these flags; only this one
# build sees it. WEASEL_WASM_PANIC_MESSAGES=1 builds the usual way, with
# messages in the console, for debugging.
std_src="$(rustc --print sysroot)/lib/rustlib/src/rust/library/std"
if [ "${WEASEL_WASM_PANIC_MESSAGES:-0}" != 1 ] && [ -d "$std_src" ]; then
  RUSTC_BOOTSTRAP=1 cargo build --locked -p weasel-frontend --target wasm32-unknown-unknown --profile wasm-release \
    -Zbuild-std=std,panic_abort \
    --config 'target.wasm32-unknown-unknown.rustflags=["-Zunstable-options", "-Cpanic=immediate-abort", "-Zlocation-detail=none"]'
else
  [ -d "$std_src" ] || note "no rust-src in this toolchain (rustup component add rust-src): panics keep their messages, the wasm is larger"
  cargo build --locked -p weasel-frontend --target wasm32-unknown-unknown --profile wasm-release
fi

step "site -> $SITE_ROOT"
staging="$(mktemp -d "$TARGET_DIR/site-staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"
# Built in `pkg/build`, then named after a hash of every file it holds (see
# below). No file names its own directory: the pieces are fetched relative
# to the loader.
out="$staging/pkg/build"
mkdir -p "$out"
# The main file and the pieces the lazy pages load (`app::routes`), with
# `__wasm_split.js`, which fetches and links a piece when it is first needed.
wasm-split-cli "$wasm_in" "$out" --target web --out-name "$name"
wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle \
  --out-dir "$out" --out-name "$name" "$out/$name.wasm"
rm "$out/$name.wasm"
# -O3, not -Oz: Chromium compiles each wasm function on its first call, on
# the main thread, and that was 80 % of the task that hydrates a
# conversation (a Chromium trace: 54 of 67 ms), much of it a fixed cost per
# function. -O3 inlines more, so hydrating a conversation compiles 1,923
# functions instead of 2,684 and Lighthouse's Total Blocking Time of a
# conversation drops by about a quarter; brotli makes the files the same
# size (main +0.4 KB, the students' piece -2.4 KB), measured 2026-12-06.
for wasm in "$out"/*.wasm; do
  "$ROOT/tools/node_modules/.bin/wasm-opt" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm"
done
# The JavaScript minified, as cargo-leptos does (the exports stay as named).
for js in "$out/$name.js" "$out/__wasm_split.js"; do
  "$ROOT/tools/node_modules/.bin/esbuild" "$js" --minify --format=esm --log-level=warning --outfile="$js.min"
  mv "$js.min" "$js"
done
cp "$ROOT/style/main.css" "$out/$name.css"
# Everything of one build sits in a directory named after a hash of its
# files' content (what the tools made, not only what they were given), so a
# deploy never mixes old and new files and browsers may keep them forever
# (`immutable`). The server reads `<hash>/weasel` from `output-name`.
hash="$(cd "$out" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)"
mv "$out" "$staging/pkg/$hash"
out="$staging/pkg/$hash"
printf '%s\n' "$hash/$name" > "$staging/output-name"
# Precompressed beside each file (brotli 11, gzip 9): served as they are,
# never compressed again per request.
node - "$out" <<'JS'
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const dir = process.argv[2];
for (const file of fs.readdirSync(dir)) {
  const data = fs.readFileSync(path.join(dir, file));
  fs.writeFileSync(path.join(dir, `${file}.br`), zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  }));
  fs.writeFileSync(path.join(dir, `${file}.gz`), zlib.gzipSync(data, { level: 9 }));
}
JS
cp -R "$ROOT/public/." "$staging/"
# Swap in the new site in one step, so a running server never sees half of it.
rm -rf "$SITE_ROOT.old"
[ -d "$SITE_ROOT" ] && mv "$SITE_ROOT" "$SITE_ROOT.old"
mv "$staging" "$SITE_ROOT"
rm -rf "$SITE_ROOT.old"
trap - EXIT
note "$hash/$name: main wasm $(du -h "$pkg/$hash/${name}_bg.wasm" | cut -f1) ($(du -h "$pkg/$hash/${name}_bg.wasm.br" | cut -f1) brotli), \
$(ls "$pkg/$hash" | grep -c '^\(split\|chunk\)_.*\.wasm$') pieces loaded later ($(cat "$pkg/$hash"/split_*.wasm.br "$pkg/$hash"/chunk_*.wasm.br 2>/dev/null | wc -c) bytes brotli)"
