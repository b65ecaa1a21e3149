#!/usr/bin/env bash
# vtag synth: wall time of rendering the 500-video demo corpus (seed 1, every
# core), against the budget of 2 minutes on this machine. There is no
# reference program to race; the figure is the corpus's frames per second.
# Best of $VTAG_BENCH_REPS runs (default 1: a run is half a minute of both
# cores); the corpus is written to $build/bench/synth and removed afterwards.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
vtag=$build/vtag
out=$build/bench/synth
reps=${VTAG_BENCH_REPS:-1}
mkdir -p "$build/bench"
cmd="$vtag synth --out $out --videos 500 --seed 1"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; best of $reps run(s)"
best=
for ((r = 0; r < reps; r++)); do
  rm -rf "$out"
  s=$(date +%s%N)
  if ! $cmd 2> "$build/bench/synth.err"; then
    echo "bench_synth: failed: $cmd" >&2
    cat "$build/bench/synth.err" >&2
    exit 1
  fi
  e=$(date +%s%N)
  ms=$(((e - s) / 1000000))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
summary=$(tail -1 "$build/bench/synth.err" | sed 's/^vtag synth: //')
frames=$(echo "$summary" | sed -n 's/.* videos, \([0-9]*\) frames.*/\1/p')
echo
echo "500 videos (seed 1): $summary"
awk -v ms="$best" -v f="$frames" 'BEGIN { printf "  wall time %.1f s, %.0f frames/s rendered and encoded\n", ms / 1000, f / (ms / 1000) }'
awk -v ms="$best" 'BEGIN { printf "  budget 120 s: %s\n", (ms <= 120000) ? "PASS" : "FAIL" }'
echo "  command: $cmd"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out" "$build/bench/synth.err"
