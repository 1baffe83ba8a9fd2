#!/usr/bin/env bash
# `make test`: every test of the dev build (warnings as errors), then the unit, integration and
# fuzz-replay tests again against the ASan + UBSan build (preset asan: a memory error, a leak or
# undefined behaviour fails the test). Benchmarks measure and run in the dev pass only; the web
# tests need no second pass (the asan preset builds no web app). Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

summary() { # "N% tests passed, F tests failed out of T" → "T F"
  sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\2 \1/p' "$1" | tail -1
}

ctest --preset dev -j "$jobs" 2>&1 | tee "$logs/dev"
dev_rc=${PIPESTATUS[0]}

echo "== ASan + UBSan: building the asan preset"
asan_rc=0
if cmake --preset asan >/dev/null && cmake --build --preset asan -j "$jobs"; then
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    ctest --preset asan -j "$jobs" -LE bench 2>&1 | tee "$logs/asan"
  asan_rc=${PIPESTATUS[0]}
else
  echo "the asan build failed" | tee "$logs/asan"
  asan_rc=1
fi

read -r dev_total dev_failed <<<"$(summary "$logs/dev")"
read -r asan_total asan_failed <<<"$(summary "$logs/asan")"
dev_total=${dev_total:-0} dev_failed=${dev_failed:-0} asan_total=${asan_total:-0} asan_failed=${asan_failed:-0}
[ "$dev_rc" -ne 0 ] && [ "$dev_failed" -eq 0 ] && dev_failed=1
[ "$asan_rc" -ne 0 ] && [ "$asan_failed" -eq 0 ] && asan_failed=1
failed=$((dev_failed + asan_failed))
passed=$((dev_total + asan_total - failed))
echo "dev: $((dev_total - dev_failed)) of $dev_total passed; asan + ubsan: $((asan_total - asan_failed)) of $asan_total passed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
