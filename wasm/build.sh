#!/bin/sh
# Builds the parts of core the web app runs into WebAssembly, each with its embind bindings:
#   chart:  core/chart (the ChordPro parser and transposer) → OUT_DIR/chart.mjs, chart.wasm, chart.d.mts
#   timing: core/tempo_math (beat arithmetic) and core/clock_sync (the clock-sync estimator)
#           → OUT_DIR/timing.mjs, timing.wasm, timing.d.mts
# Run by CMake (web/CMakeLists.txt, before web_build) and by hand: sh wasm/build.sh web/src/gen [chart|timing]
# (both when no module is named). Needs Debian's emscripten (make deps); EMXX overrides the compiler.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/web/src/gen}
what=${2:-all}
mkdir -p "$out"
# Debian's emscripten runs its JS optimizer with node and finds acorn only through NODE_PATH.
NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
export NODE_PATH

# ENVIRONMENT=web: the node branch of emscripten 3.1.6's ES6 output uses __dirname and require,
# which an ES module cannot; node (vitest) passes wasmBinary instead, the browser fetches the file.
# DYNAMIC_EXECUTION=0: embind builds no functions with eval (the page's CSP has no unsafe-eval).
build() {  # name export-name sources...
  name=$1 export_name=$2
  shift 2
  "${EMXX:-em++}" -std=c++20 -O2 -fno-exceptions -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Werror \
    -I"$root" "$@" \
    --bind -s MODULARIZE=1 -s EXPORT_ES6=1 -s EXPORT_NAME="$export_name" -s ENVIRONMENT=web \
    -s ALLOW_MEMORY_GROWTH=1 -s FILESYSTEM=0 -s DYNAMIC_EXECUTION=0 \
    -o "$out/$name.mjs"
  # The factory's type; web/src/<wrapper>.ts declares the module's functions.
  cat > "$out/$name.d.mts" <<TS
declare const $export_name: (options?: { wasmBinary?: ArrayBuffer | Uint8Array; locateFile?: (path: string) => string }) => Promise<unknown>;
export default $export_name;
TS
}

case $what in
  chart | all) build chart createChartModule "$root/core/chart.cpp" "$root/core/text.cpp" "$root/wasm/chart_bind.cpp" ;;
esac
case $what in
  timing | all) build timing createTimingModule "$root/core/tempo_math.cpp" "$root/core/clock_sync.cpp" "$root/wasm/timing_bind.cpp" ;;
esac
