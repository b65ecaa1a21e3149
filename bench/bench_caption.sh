#!/usr/bin/env bash
# XE training step of fc, att2in and topdown (SPEC §9 sizes, 2 threads):
# vtag (bench_caption) on each kernel path this CPU runs (bench/paths.sh) against the PyTorch
# reference (bench/xe_step.py) in the same run, PyTorch both as Debian ships it (the configuration
# SPEC §9 quotes) and tuned (OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS = threads: its
# OpenMP threads then stop spinning against OpenBLAS's own); the ratio is against the better of the two.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/paths.sh"
threads=${VTAG_BENCH_THREADS:-2}
iters=${VTAG_BENCH_ITERS:-5}
paths=$(bench_paths "$build")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  paths: $paths"
for p in $paths; do
  env $(bench_path_env "$p") "$build/bench/bench_caption" "$threads" "$iters" | sed "s/^vtag /vtag_$p /" | tee -a "$out"
done
/usr/bin/python3 "$here/xe_step.py" "$threads" "$iters" | tee -a "$out"
OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=$threads /usr/bin/python3 "$here/xe_step.py" "$threads" "$iters" |
  sed 's/^torch /torch_tuned /' | tee -a "$out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
ms() { grep "^$1 xe_step model=$2 " "$out" | sed 's/.* ms=\([0-9.]*\).*/\1/'; }
for p in $paths; do
  for m in fc att2in topdown; do
    awk -v p="$p" -v m="$m" -v v="$(ms "vtag_$p" $m)" -v t="$(ms torch $m)" -v u="$(ms torch_tuned $m)" 'BEGIN {
      b = t < u ? t : u
      printf "xe_step %-6s %-8s vtag %7.1f ms  torch %7.1f ms (%.2fx)  torch tuned %7.1f ms (%.2fx)  best torch %.2fx\n",
             p, m, v, t, t / v, u, u / v, b / v }'
  done
done
