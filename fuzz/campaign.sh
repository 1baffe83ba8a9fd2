#!/usr/bin/env bash
# Long libFuzzer runs, one target at a time (the figures in bench/fuzz/REPORT.md).
#   fuzz/campaign.sh [BUILD_DIR] [RUNS] [MAX_SECONDS] [TARGET...]
# Defaults: build-fuzz, 10 000 000 executions, 1200 s cap, every target. Each target mutates a
# scratch copy of fuzz/corpus/NAME (the committed corpus is only read); logs, the grown corpus
# and any crash-* artifacts go to $FUZZ_OUT (default: a new directory under /tmp). A crash found
# here belongs in fuzz/corpus/NAME once fixed: it is replayed by ctest from then on.
# FUZZ_WORKERS=N runs N libFuzzer processes per target on one shared corpus (-jobs=N -workers=N),
# each for RUNS/N executions, and adds their counts: a slow target on a many-core machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-fuzz}; runs=${2:-10000000}; max=${3:-1200}
shift $(( $# < 3 ? $# : 3 ))
[ -d "$build" ] && build=$(cd "$build" && pwd)  # the workers run from the output directory
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(frame jwt url auth_body headers chart import_song)
out=${FUZZ_OUT:-$(mktemp -d /tmp/downbeat-fuzz.XXXXXX)}
echo "fuzz campaign: $(nproc) cpu(s), runs=$runs, max ${max}s per target, output in $out"
for t in "${targets[@]}"; do
  bin=$build/bin/fuzz_$t
  [ -x "$bin" ] || { echo "missing $bin: cmake --preset fuzz && cmake --build build-fuzz --target fuzz_$t"; exit 2; }
  mkdir -p "$out/$t/corpus" "$out/$t/artifacts"
  cp -n "$root/fuzz/corpus/$t/"* "$out/$t/corpus/" 2>/dev/null || true
  start=$(date +%s)
  workers=${FUZZ_WORKERS:-1}
  set +e
  args=(-max_total_time="$max" -print_final_stats=1 -rss_limit_mb=2048 -artifact_prefix="$out/$t/artifacts/")
  if [ "$workers" -gt 1 ]; then
    # libFuzzer writes each worker's log as fuzz-K.log in the working directory.
    (cd "$out/$t" && nice -n 10 "$bin" -jobs="$workers" -workers="$workers" -runs=$(( runs / workers )) "${args[@]}" "$out/$t/corpus" > "$out/$t/log" 2>&1)
  else
    nice -n 10 "$bin" -runs="$runs" "${args[@]}" "$out/$t/corpus" > "$out/$t/log" 2>&1
  fi
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  logs=("$out/$t/log"); [ "$workers" -gt 1 ] && logs=("$out/$t"/fuzz-*.log)
  last=$(cat "${logs[@]}" | tr '\r' '\n' | grep -E '^#[0-9]+' | tail -1)
  execs=$(cat "${logs[@]}" | grep -E '^stat::number_of_executed_units' | awk '{n += $2} END {if (NR) print n}')
  echo "$t: rc=$rc ${secs}s execs=${execs:-?} corpus=$(ls "$out/$t/corpus" | wc -l) crashes=$(ls "$out/$t/artifacts" | wc -l) | $last"
done
