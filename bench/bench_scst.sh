#!/usr/bin/env bash
# One SCST step (10 images × 5 samples + greedy, max_length 16, XE-benchmark sizes, 2 threads) of each model:
# vtag (bench_scst) against PyTorch + pure-Python CIDEr-D (bench/scst_step.py), same run, interleaved.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=${VTAG_BENCH_THREADS:-2}
iters=${VTAG_BENCH_ITERS:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
# Model by model, so that both sides see the same load. PyTorch twice: as Debian ships it (what
# SPEC §9 quotes) and tuned (OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS; see bench_caption.sh).
# vtag twice too: as built, and with OMP_WAIT_POLICY=passive (vtag_passive), which is what keeps its
# two threads from spinning against another process on a shared 2-core machine.
for m in fc att2in topdown; do
  "$build/bench/bench_scst" "$threads" "$iters" "$m" | tee -a "$out"
  OMP_WAIT_POLICY=passive "$build/bench/bench_scst" "$threads" "$iters" "$m" | sed 's/^vtag /vtag_passive /' | tee -a "$out"
  /usr/bin/python3 "$here/scst_step.py" "$threads" "$iters" "$m" | tee -a "$out"
  /usr/bin/python3 "$here/scst_step.py" "$threads" "$iters" "$m" --tuned | tee -a "$out"
done
ms() { grep "^$1 scst_step model=$2 " "$out" | sed 's/.* ms=\([0-9.]*\).*/\1/'; }
for m in fc att2in topdown; do
  awk -v m="$m" -v v="$(ms vtag "$m")" -v p="$(ms vtag_passive "$m")" -v t="$(ms torch "$m")" \
      -v u="$(ms torch_tuned "$m")" 'BEGIN {
    printf "scst_step %-8s vtag %7.1f ms  torch %7.1f ms (%.2fx)  torch tuned %7.1f ms (%.2fx)\n",
           m, v, t, t / v, u, u / v
    printf "scst_step %-8s vtag passive %7.1f ms: torch %.2fx, torch tuned %.2fx\n", m, p, t / p, u / p }'
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
