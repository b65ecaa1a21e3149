#!/usr/bin/env bash
# CNN layer speed (`bash bench/bench_cnn.sh BUILD`): every conv shape of resnet18 and mobilenet_v2
# (bench/cnn_shapes.txt, batch 8, 224 px) through vtag_conv2d_forward (bias + fused activation) and
# torch.nn.functional.conv2d + activation (Debian's torch, oneDNN inside) in the same run, same
# threads: GFLOP/s per shape and torch's time over vtag's (> 1: vtag is faster), then each
# network's conv time summed over its layers (shape time × how often the network runs it).
# torch is measured as shipped and with OMP_WAIT_POLICY=passive.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=${VTAG_BENCH_THREADS:-2}
batch=${VTAG_BENCH_BATCH:-8}
secs=${VTAG_BENCH_SECONDS:-0.5}
bin="$build/bench/bench_cnn"
[ -x "$bin" ] || { echo "bench_cnn: $bin not built (cmake --build $build --target bench_cnn)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  threads=$threads batch=$batch"
"$bin" "$here/cnn_shapes.txt" "$threads" "$batch" "$secs" >>"$out"
/usr/bin/python3 "$here/conv_layers.py" "$here/cnn_shapes.txt" "$threads" "$batch" "$secs" default >>"$out"
/usr/bin/python3 "$here/conv_layers.py" "$here/cnn_shapes.txt" "$threads" "$batch" "$secs" passive >>"$out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
  /^conv / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = f["name"]; impl = f["impl"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key; count[key] = f["count"] }
    ms[impl, key] = f["ms"]; gf[impl, key] = f["gflops"]
  }
  END {
    printf "%-16s %5s %9s %7s %9s %7s %6s %9s %6s\n", "shape", "count", "vtag_ms", "GF/s", "torch_ms", "GF/s", "ratio", "passv_ms", "ratio"
    for (i = 1; i <= n; i++) {
      k = order[i]; net = substr(k, 1, index(k, ".") - 1)
      v = ms["vtag", k]; t = ms["torch", k]; p = ms["torch_passive", k]
      printf "%-16s %5d %9.3f %7.1f %9.3f %7.1f %6.2f %9.3f %6.2f\n", k, count[k], v, gf["vtag", k], t, gf["torch", k], t / v, p, p / v
      tv[net] += count[k] * v; tt[net] += count[k] * t; tp[net] += count[k] * p
    }
    for (net in tv)
      printf "cnn_convs net=%s vtag_ms=%.1f torch_ms=%.1f ratio=%.2f torch_passive_ms=%.1f ratio_passive=%.2f\n", net, tv[net], tt[net], tt[net] / tv[net], tp[net], tp[net] / tv[net]
  }' "$out"
