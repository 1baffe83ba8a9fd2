#!/bin/sh
# Builds core/chart (the ChordPro parser and transposer) and its embind bindings into
# WebAssembly for the web app: OUT_DIR/chart.mjs (ES module factory), chart.wasm, chart.d.mts.
# Run by CMake (web/CMakeLists.txt, before web_build) and by hand: sh wasm/build.sh web/src/gen
# Needs Debian's emscripten (make deps); EMXX overrides the compiler.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/web/src/gen}
mkdir -p "$out"
# Debian's emscripten runs its JS optimizer with node and finds acorn only through NODE_PATH.
NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
export NODE_PATH
# ENVIRONMENT=web: the node branch of emscripten 3.1.6's ES6 output uses __dirname and require,
# which an ES module cannot; node (vitest) passes wasmBinary instead, the browser fetches the file.
# DYNAMIC_EXECUTION=0: embind builds no functions with eval (the page's CSP has no unsafe-eval).
"${EMXX:-em++}" -std=c++20 -O2 -fno-exceptions -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Werror \
  -I"$root" "$root/core/chart.cpp" "$root/core/text.cpp" "$root/wasm/chart_bind.cpp" \
  --bind -s MODULARIZE=1 -s EXPORT_ES6=1 -s EXPORT_NAME=createChartModule -s ENVIRONMENT=web \
  -s ALLOW_MEMORY_GROWTH=1 -s FILESYSTEM=0 -s DYNAMIC_EXECUTION=0 \
  -o "$out/chart.mjs"
# The factory's type; web/src/chart.ts declares the module's functions.
cat > "$out/chart.d.mts" <<'TS'
declare const createChartModule: (options?: { wasmBinary?: ArrayBuffer | Uint8Array; locateFile?: (path: string) => string }) => Promise<unknown>;
export default createChartModule;
TS
