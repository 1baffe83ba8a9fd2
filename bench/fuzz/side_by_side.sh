#!/usr/bin/env bash
# Every fuzz target beside the machine's floor (the empty target, same sanitizers), in one run:
# SECONDS_EACH s each, one at a time, on a copy of the committed corpus. Prints a table row each.
#   bash bench/fuzz/side_by_side.sh [SECONDS_EACH]   (after: cmake --preset fuzz && cmake --build build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo "| target | executions in ${secs} s | exec/s | share of the floor |"
echo "|---|---|---|---|"
floor=0
for t in floor frame jwt url auth_body headers; do
  mkdir -p "$work/$t"
  [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$work/$t/"
  n=$(build-fuzz/bin/fuzz_$t -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -artifact_prefix="$work/" "$work/$t" 2>&1 |
      sed -n 's/^stat::number_of_executed_units: *//p')
  rate=$((n / secs))
  [ "$t" = floor ] && floor=$rate
  echo "| $t | $n | $rate | $((rate * 100 / (floor > 0 ? floor : 1))) % |"
done
