#!/usr/bin/env bash
# Core speed (`bash bench/bench_core.sh BUILD`): sgemm GFLOP/s through vtag's CBLAS backend and one
# LSTM-cell forward+backward step (batch 50, E = R = 512) in vtag and PyTorch, same run, same threads.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=${VTAG_BENCH_THREADS:-1 2}
bin="$build/bench/bench_core"
[ -x "$bin" ] || { echo "bench_core: $bin not built (cmake --build $build --target bench_core)" >&2; exit 1; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086
"$bin" $threads | tee "$out"
# PyTorch as it comes (torch.set_num_threads(T), OpenBLAS held to T threads) and, from 2 threads
# on, with OMP_WAIT_POLICY=passive, its better setting here (see lstm_step.py).
for t in $threads; do
  policies=default
  [ "$t" -gt 1 ] && policies="default passive"
  for p in $policies; do
    if /usr/bin/python3 "$here/lstm_step.py" --threads "$t" --omp-wait-policy "$p" | tee -a "$out"; then :; else
      echo "lstm_step threads=$t omp_wait_policy=$p: PyTorch run failed (is python3-torch installed?)"
    fi
  done
done

# One summary line per thread count and PyTorch setting: the medians and PyTorch's time over
# vtag's (> 1: vtag is faster). The honest headline is the one against PyTorch's faster setting.
awk '
  /^lstm_step / {
    impl = ""; t = ""; ms = ""
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "impl") impl = kv[2]
      else if (kv[1] == "threads") t = kv[2]
      else if (kv[1] == "ms_median") ms = kv[2]
    }
    if (impl == "vtag") vtag[t] = ms
    else if (ms != "") { ref[impl, t] = ms; refs[impl] = 1 }
  }
  END {
    for (t in vtag)
      for (r in refs)
        if ((r, t) in ref)
          printf "lstm_ratio threads=%s ref=%s vtag_ms=%s ref_ms=%s ref_over_vtag=%.2f\n",
                 t, r, vtag[t], ref[r, t], ref[r, t] / vtag[t]
  }' "$out" | sort
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
