#!/usr/bin/env bash
# Re-runs the figures in REPORT.md: bench/drift/run_report.sh BUILD_BIN_DIR [OUT.jsonl]
# (the netns runs need root; they print SKIP otherwise). About 15 minutes on 2 cores; run nothing else meanwhile.
set -uo pipefail
BIN=${1:?usage: run_report.sh BUILD_BIN_DIR [OUT.jsonl]}
OUT=${2:-drift-results.jsonl}
run() { "$BIN/drift" "$@" --downbeatd "$BIN/downbeatd" --json "$OUT"; }
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
