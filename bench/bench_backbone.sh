#!/usr/bin/env bash
# ONNX backbone speed (`bash bench/bench_backbone.sh BUILD`): torchvision resnet18, mobilenet_v2 and
# resnet50 exported to ONNX (reference/export_backbones.py, random weights), images/s through
# vtag_backbone_run (fc + att taps), on each kernel path this CPU runs (bench/paths.sh), against the same torchvision models in PyTorch (eval, no_grad,
# torch.set_num_threads) in the same run: batch 8, 224 px, 2 threads. Both are measured as shipped and
# with OMP_WAIT_POLICY=passive (much faster for both when other jobs load the machine); the ratios are
# vtag's images/s over PyTorch's, same policy and best against best (> 1: vtag is faster).
# VTAG_BENCH_MODELS, VTAG_BENCH_THREADS, VTAG_BENCH_BATCH, VTAG_BENCH_SECONDS override the defaults;
# VTAG_BENCH_CLOCK=cpu times both sides in process CPU time / threads (a tuning aid on a loaded machine).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/paths.sh"
models=${VTAG_BENCH_MODELS:-resnet18 mobilenet_v2 resnet50}
threads=${VTAG_BENCH_THREADS:-2}
batch=${VTAG_BENCH_BATCH:-8}
secs=${VTAG_BENCH_SECONDS:-5}
bin="$build/bench/bench_backbone"
[ -x "$bin" ] || { echo "bench_backbone: $bin not built (cmake --build $build --target bench_backbone)" >&2; exit 1; }
work=$(mktemp -d)
out="$work/out.txt"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/../reference/export_backbones.py" --out "$work" --models "${models// /,}" --no-data >/dev/null 2>&1 ||
  { echo "bench_backbone: export failed (python3-torchvision?)" >&2; exit 1; }
paths=$(bench_paths "$build")
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  threads=$threads batch=$batch size=224 clock=${VTAG_BENCH_CLOCK:-wall} paths: $paths"
for m in $models; do
  for p in $paths; do
    env $(bench_path_env "$p") "$bin" "$threads" "$batch" "$secs" "$work/$m.onnx" |
      sed "s/impl=vtag/impl=vtag_$p/" | tee -a "$out"
    env $(bench_path_env "$p") OMP_WAIT_POLICY=passive "$bin" "$threads" "$batch" "$secs" "$work/$m.onnx" |
      sed "s/impl=vtag_passive/impl=vtag_${p}_passive/" | tee -a "$out"
  done
  for p in default passive; do
    /usr/bin/python3 "$here/backbone_torch.py" "$threads" "$batch" "$secs" "$p" "$m" | tee -a "$out"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v paths="$paths" '
  /^backbone / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    ips[f["model"], f["impl"]] = f["images_per_s"]; if (!(f["model"] in seen)) { seen[f["model"]] = 1; order[++n] = f["model"] }
  }
  END {
    np = split(paths, pl, " ")
    for (i = 1; i <= n; i++)
      for (j = 1; j <= np; j++) {
        m = order[i]; p = pl[j]
        v = ips[m, "vtag_" p]; vp = ips[m, "vtag_" p "_passive"]; t = ips[m, "torch"]; tp = ips[m, "torch_passive"]
        best = t > tp ? t : tp; vbest = v > vp ? v : vp
        printf "backbone_ratio model=%s path=%s vtag=%s vtag_passive=%s torch=%s torch_passive=%s", m, p, v, vp, t, tp
        printf " default=%.2f passive=%.2f best_over_best=%.2f\n", v / t, vp / tp, vbest / best
      }
  }' "$out"
