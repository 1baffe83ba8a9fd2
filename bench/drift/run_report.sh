#!/usr/bin/env bash
# Re-runs the figures in REPORT.md: bench/drift/run_report.sh BUILD_BIN_DIR [OUT.jsonl] [sdk|browser|all]
# sdk: the SDK-only table (about 15 minutes; the netns runs need root and print SKIP otherwise).
# browser: SDK clients, browser pages (4: more do not fit on 2 cores) and mixed rooms side by side,
# one after the other in one session (about 10 minutes; needs web/dist and Debian's chromium). Run nothing else meanwhile.
set -uo pipefail
BIN=${1:?usage: run_report.sh BUILD_BIN_DIR [OUT.jsonl] [sdk|browser|all]}
OUT=${2:-drift-results.jsonl}
WHAT=${3:-all}
HERE=$(cd "$(dirname "$0")" && pwd)
run() { "$BIN/drift" "$@" --downbeatd "$BIN/downbeatd" --json "$OUT"; }
if [ "$WHAT" = sdk ] || [ "$WHAT" = all ]; then
  FAST=(--ping-interval-ms 500 --sync-window 64)
  run loopback --label "clean 20"       --clients 20  --duration 60 --warmup 10 --profile clean
  run loopback --label "lan 20"         --clients 20  --duration 60 --warmup 10
  run loopback --label "lan 100"        --clients 100 --duration 60 --warmup 10
  run loopback --label "lan 20 cold"    --clients 20  --duration 60 --warmup 0
  run loopback --label "lan 20 fast"    --clients 20  --duration 60 --warmup 10 "${FAST[@]}"
  run netns    --label "netem 20"       --clients 20  --duration 60 --warmup 10
  run netns    --label "netem 100"      --clients 100 --duration 60 --warmup 10
  run netns    --label "netem 20 cold"  --clients 20  --duration 60 --warmup 0
  run netns    --label "netem 20 fast"  --clients 20  --duration 60 --warmup 10 "${FAST[@]}"
  run netns    --label "netem 100 fast" --clients 100 --duration 60 --warmup 10 "${FAST[@]}"
fi
if [ "$WHAT" = browser ] || [ "$WHAT" = all ]; then
  PAGES=(--web-root "$HERE/../../web/dist" --pages-script "$HERE/pages.mjs")
  B=(--duration 30 --warmup 5)
  for profile in clean lan netem; do
    run loopback --label "sdk $profile 10"         --profile "$profile" --clients 10 "${B[@]}"
    run loopback --label "browser $profile 4"      --profile "$profile" --clients 0 --browsers 4 "${B[@]}" "${PAGES[@]}"
    run loopback --label "mixed $profile 10+4"     --profile "$profile" --clients 10 --browsers 4 "${B[@]}" "${PAGES[@]}"
  done
  # Ten pages in one Chromium: what a 2-core machine does when it also plays ten phones.
  run loopback --label "browser lan 10" --profile lan --clients 0 --browsers 10 "${B[@]}" "${PAGES[@]}"
fi
