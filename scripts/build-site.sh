#!/usr/bin/env bash
# Builds the browser side into $CARGO_TARGET_DIR/site, the way cargo-leptos
# does: the `hydrate` wasm (size-optimised profile), wasm-bindgen's JS glue,
# wasm-opt, the stylesheet and the public assets.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_toolchain

name=weasel
pkg="$SITE_ROOT/pkg"
wasm_in="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/weasel_frontend.wasm"

step "wasm (hydrate)"
cargo build --locked -p weasel-frontend --target wasm32-unknown-unknown --profile wasm-release

step "site -> $SITE_ROOT"
staging="$(mktemp -d "$TARGET_DIR/site-staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"
mkdir -p "$staging/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$staging/pkg" --out-name "$name" "$wasm_in"
"$ROOT/tools/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$staging/pkg/${name}_bg.wasm" -o "$staging/pkg/${name}_bg.wasm"
cp "$ROOT/style/main.css" "$staging/pkg/$name.css"
# Hashed names: a deploy never mixes old and new files, and browsers may
# keep them forever (`immutable`). The server reads the name from
# `output-name`; the JS glue's own default path is renamed with it.
hash="$(cat "$staging/pkg/$name.js" "$staging/pkg/${name}_bg.wasm" "$staging/pkg/$name.css" | sha256sum | cut -c1-16)"
hashed="$name.$hash"
sed -i "s/${name}_bg\.wasm/${hashed}_bg.wasm/g" "$staging/pkg/$name.js"
mv "$staging/pkg/$name.js" "$staging/pkg/$hashed.js"
mv "$staging/pkg/${name}_bg.wasm" "$staging/pkg/${hashed}_bg.wasm"
mv "$staging/pkg/$name.css" "$staging/pkg/$hashed.css"
printf '%s\n' "$hashed" > "$staging/output-name"
# Precompressed beside each file (brotli 11, gzip 9): served as they are,
# never compressed again per request.
node - "$staging/pkg" <<'JS'
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
note "$hashed: $(du -h "$pkg/${hashed}_bg.wasm" | cut -f1) wasm ($(du -h "$pkg/${hashed}_bg.wasm.br" | cut -f1) brotli), $(du -h "$pkg/$hashed.js" | cut -f1) js"
