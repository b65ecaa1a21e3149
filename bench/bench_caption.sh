#!/usr/bin/env bash
# XE training step of fc, att2in and topdown (SPEC §9 sizes, 2 threads):
# vtag (bench_caption) against the PyTorch reference (bench/xe_step.py), same run.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=${VTAG_BENCH_THREADS:-2}
iters=${VTAG_BENCH_ITERS:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/bench/bench_caption" "$threads" "$iters" | tee -a "$out"
/usr/bin/python3 "$here/xe_step.py" "$threads" "$iters" | tee -a "$out"
for m in fc att2in topdown; do
  v=$(grep "^vtag xe_step model=$m " "$out" | sed 's/.* ms=\([0-9.]*\).*/\1/')
  t=$(grep "^torch xe_step model=$m " "$out" | sed 's/.* ms=\([0-9.]*\).*/\1/')
  awk -v m="$m" -v v="$v" -v t="$t" 'BEGIN { printf "xe_step %-8s vtag %8.1f ms  torch %8.1f ms  speed-up %.2fx\n", m, v, t, t / v }'
done
