#!/usr/bin/env bash
# Prints the size of the browser's WebAssembly as a release build ships it (wasm-release
# profile, wasm-bindgen, then wasm-opt -Oz when it is on PATH, as `cargo leptos build
# --release` runs them): raw bytes and gzip-compressed bytes. Nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
target_dir=${CARGO_TARGET_DIR:-target}
cargo build -p app --lib --features hydrate --target wasm32-unknown-unknown --profile wasm-release
out=$(mktemp -d /tmp/imlink-wasm.XXXXXX)
trap 'rm -rf "$out"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name imlink \
  "$target_dir/wasm32-unknown-unknown/wasm-release/app.wasm"
wasm="$out/imlink_bg.wasm"
optimized="without wasm-opt (not on PATH)"
if command -v wasm-opt >/dev/null; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$wasm" -o "$wasm"
  optimized="after wasm-opt -Oz"
fi
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
js=$(gzip -9 -c "$out/imlink.js" | wc -c)
printf 'browser WebAssembly, release, %s: %9d bytes, %9d gzip-compressed (glue JS %d gzip-compressed)\n' \
  "$optimized" "$raw" "$gz" "$js"
