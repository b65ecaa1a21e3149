#!/usr/bin/env bash
# XE training step of fc, att2in and topdown (SPEC §9 sizes, 2 threads):
# vtag (bench_caption) against the PyTorch reference (bench/xe_step.py) in the
# same run, PyTorch both as Debian ships it (the configuration SPEC §9 quotes)
# and tuned (OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS = threads: its
# OpenMP threads then stop spinning against OpenBLAS's own).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=${VTAG_BENCH_THREADS:-2}
iters=${VTAG_BENCH_ITERS:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/bench_caption" "$threads" "$iters" | tee -a "$out"
/usr/bin/python3 "$here/xe_step.py" "$threads" "$iters" | tee -a "$out"
OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=$threads /usr/bin/python3 "$here/xe_step.py" "$threads" "$iters" |
  sed 's/^torch /torch_tuned /' | tee -a "$out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
ms() { grep "^$1 xe_step model=$2 " "$out" | sed 's/.* ms=\([0-9.]*\).*/\1/'; }
for m in fc att2in topdown; do
  awk -v m="$m" -v v="$(ms vtag $m)" -v t="$(ms torch $m)" -v u="$(ms torch_tuned $m)" 'BEGIN {
    printf "xe_step %-8s vtag %7.1f ms  torch %7.1f ms (%.2fx)  torch tuned %7.1f ms (%.2fx)\n", m, v, t, t / v, u, u / v }'
done
