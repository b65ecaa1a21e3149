#!/usr/bin/env bash
# CIDEr-D speed: vtag against reference/metrics.py (pure Python, coco-caption's
# CiderD) on 10,000 candidates with 5 references each, document frequencies
# precomputed, both on one core, in this run. Two shapes of the same work:
#   items: 10,000 images, one candidate each, one vtag_metrics_cider_d call per
#          candidate (everything but the df is computed per call);
#   scst:  2,000 images × 5 sampled captions (SCST's reward), one
#          vtag_metrics_cider_d_many call per image (its references prepared
#          once). Python scores every candidate on its own in both, as
#          coco-caption does. Each side: best of 3 passes over all candidates.
#          vtag reports its thread count (1: it scores on one thread).
#          Usage: bench_metrics.sh BUILD
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 0); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for shape in "items 10000 1" "scst 2000 5"; do
  read -r name images cands <<<"$shape"
  corpus=$tmp/$name.jsonl
  "$build/bench/bench_metrics" write "$corpus" "$images" "$cands" 1
  c=$("${pin[@]}" "$build/bench/bench_metrics" run "$corpus" "$cands" 3)
  p=$("${pin[@]}" /usr/bin/python3 "$root/reference/metrics.py" bench --in "$corpus" --group "$cands" --repeat 3)
  /usr/bin/python3 - "$name" "$images" "$cands" "$c" "$p" <<'PY'
import json, sys
name, images, cands = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c, p = json.loads(sys.argv[4]), json.loads(sys.argv[5])
print("[%s] %d images x %d candidates x 5 references, %.1f tokens per candidate, df of %d n-grams"
      % (name, images, cands, c["mean_tokens"], c["distinct_ngrams"]))
print("  vtag   CIDEr-D: %8.3f us per candidate (best of 3 passes over all %d, %d thread%s; df built in %.3f s)"
      % (c["us_per_candidate"], c["candidates"], c["threads"], "" if c["threads"] == 1 else "s", c["df_seconds"]))
print("  python CIDEr-D: %8.1f us per candidate (reference/metrics.py, best of 3 passes over all %d)"
      % (p["us_per_candidate"], p["candidates"]))
ratio = p["us_per_candidate"] / c["us_per_candidate"]
cpu_ratio = p["cpu_us_per_candidate"] / c["cpu_us_per_candidate"]
d = abs(c["mean_cider_d"] - p["mean_cider_d"])
print("  ratio: %.0fx (target >= 100x)%s; mean CIDEr-D %.17g vs %.17g (|diff| %.2g)"
      % (ratio, "" if ratio >= 100 else "  BELOW TARGET", c["mean_cider_d"], p["mean_cider_d"], d))
print("  by CPU time (each side's best pass; steadier while other jobs share the core): "
      "vtag %.3f us, python %.1f us, ratio %.0fx" % (c["cpu_us_per_candidate"], p["cpu_us_per_candidate"], cpu_ratio))
PY
done
