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
cp -R "$ROOT/public/." "$staging/"
# Swap in the new site in one step, so a running server never sees half of it.
rm -rf "$SITE_ROOT.old"
[ -d "$SITE_ROOT" ] && mv "$SITE_ROOT" "$SITE_ROOT.old"
mv "$staging" "$SITE_ROOT"
rm -rf "$SITE_ROOT.old"
trap - EXIT
note "$(du -h "$pkg/${name}_bg.wasm" | cut -f1) wasm, $(du -h "$pkg/$name.js" | cut -f1) js"
