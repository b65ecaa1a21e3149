#!/usr/bin/env bash
# One SCST step (10 images × 5 samples + greedy, max_length 16, XE-benchmark sizes, 2 threads) of each model:
# vtag (bench_scst) on each kernel path this CPU runs (bench/paths.sh) against PyTorch + pure-Python
# CIDEr-D (bench/scst_step.py), same run, interleaved; the ratio is against PyTorch's better configuration.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/paths.sh"
threads=${VTAG_BENCH_THREADS:-2}
iters=${VTAG_BENCH_ITERS:-5}
paths=$(bench_paths "$build")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)  paths: $paths"
# Model by model, so that both sides see the same load. PyTorch twice: as Debian ships it (what
# SPEC §9 quotes) and tuned (OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS; see bench_caption.sh).
# vtag twice per path too: as built, and with OMP_WAIT_POLICY=passive (vtag_passive), which is what
# keeps its two threads from spinning against another process on a shared 2-core machine.
for m in fc att2in topdown; do
  for p in $paths; do
    env $(bench_path_env "$p") "$build/bench/bench_scst" "$threads" "$iters" "$m" | sed "s/^vtag /vtag_$p /" |
      tee -a "$out"
    env $(bench_path_env "$p") OMP_WAIT_POLICY=passive "$build/bench/bench_scst" "$threads" "$iters" "$m" |
      sed "s/^vtag /vtag_passive_$p /" | tee -a "$out"
  done
  /usr/bin/python3 "$here/scst_step.py" "$threads" "$iters" "$m" | tee -a "$out"
  /usr/bin/python3 "$here/scst_step.py" "$threads" "$iters" "$m" --tuned | tee -a "$out"
done
ms() { grep "^$1 scst_step model=$2 " "$out" | sed 's/.* ms=\([0-9.]*\).*/\1/'; }
for p in $paths; do
  for m in fc att2in topdown; do
    awk -v p="$p" -v m="$m" -v v="$(ms "vtag_$p" "$m")" -v q="$(ms "vtag_passive_$p" "$m")" -v t="$(ms torch "$m")" \
        -v u="$(ms torch_tuned "$m")" 'BEGIN {
      b = t < u ? t : u; w = v < q ? v : q
      printf "scst_step %-6s %-8s vtag %7.1f ms (passive %7.1f)  torch %7.1f ms  torch tuned %7.1f ms  best vs best %.2fx\n",
             p, m, v, q, t, u, b / w }'
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
