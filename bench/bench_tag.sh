#!/usr/bin/env bash
# Tagging one video end to end, stage by stage: `vtag tag --timing` on a 60 s
# 1280x720 H.264 clip (2 s GOPs), uniform:16 at 224 px, through torchvision's
# resnet18 exported to ONNX (random weights: the cost does not depend on them)
# and a topdown caption model at the SPEC sizes (E = R = A = 512, vocabulary
# of the demo corpus' size). Prints the best of $VTAG_BENCH_REPS runs
# (default 3) of each stage — decode, backbone, caption — and of the whole
# process (loading the models included). Made in $build/bench/tag.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
vtag=$build/vtag
py=/usr/bin/python3
dir=$build/bench/tag
reps=${VTAG_BENCH_REPS:-3}
threads=${VTAG_BENCH_THREADS:-2}
mkdir -p "$dir"
cd "$dir"

clip=clip60.mp4
if [ ! -f $clip ]; then
  echo "making $clip (60 s, 1280x720, 30 fps, 2 s GOPs)..."
  ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=1280x720:r=30:d=60 \
    -c:v libx264 -preset veryfast -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
    -movflags +faststart $clip.tmp.mp4
  mv $clip.tmp.mp4 $clip
fi
[ -f resnet18.onnx ] || $py "$here/../reference/export_backbones.py" --out . --models resnet18 --no-data >/dev/null

# A topdown checkpoint of the SPEC sizes for resnet18's features (fc 512,
# att 7x7x512), trained one step on random rows so that it is a real file.
if [ ! -f topdown.safetensors ]; then
  PYTHONPATH="$here/../reference" $py - <<'EOF'
import json, torch
import safetensors_io as st
labels, items = [], []
for i in range(50):
    v = "v%02d" % i
    labels.append({"video": v, "class1": "c%d" % (i % 8), "class2": "s%d" % (i % 24),
                   "tags": ["t%d" % ((i * 7 + k) % 50) for k in range(3)], "split": "train"})
    items.append(v)
with open("labels.jsonl", "w") as f:
    for e in labels:
        f.write(json.dumps(e) + "\n")
g = torch.Generator().manual_seed(0)
st.save("feats.safetensors", {"fc": st.from_torch(torch.randn(50, 512, generator=g)),
                              "att": st.from_torch(torch.randn(50, 49, 512, generator=g))},
        {"vtag.items": json.dumps(items), "vtag.backbone": "random"})
EOF
  "$vtag" train --labels labels.jsonl --feats feats.safetensors --model topdown --epochs 1 \
    --threads "$threads" --out topdown.safetensors 2>/dev/null
fi

best() { sort -g | head -1; }
declare -a dec bb cap tot wall
for ((r = 0; r < reps; r++)); do
  s=$(date +%s%N)
  "$vtag" tag --checkpoint topdown.safetensors --backbone resnet18.onnx --threads "$threads" --timing \
    $clip > tag.jsonl 2> timing.txt
  e=$(date +%s%N)
  line=$(grep "frames, decode" timing.txt)
  dec+=("$(sed -E 's/.*decode ([0-9.]+) s.*/\1/' <<< "$line")")
  bb+=("$(sed -E 's/.*backbone ([0-9.]+) s.*/\1/' <<< "$line")")
  cap+=("$(sed -E 's/.*caption ([0-9.]+) s.*/\1/' <<< "$line")")
  tot+=("$(sed -E 's/.*total ([0-9.]+) s.*/\1/' <<< "$line")")
  wall+=("$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
done
frames=$(grep -c pts_seconds <(tr '{' '\n' < tag.jsonl) || true)
echo "tag one 60 s 720p video, uniform:16 at 224 px, resnet18 (ONNX) + topdown 512, $threads threads, best of $reps (load $(cut -d' ' -f1 /proc/loadavg)):"
printf "  decode + scale   %7.3f s\n" "$(printf '%s\n' "${dec[@]}" | best)"
printf "  backbone         %7.3f s\n" "$(printf '%s\n' "${bb[@]}" | best)"
printf "  caption          %7.3f s\n" "$(printf '%s\n' "${cap[@]}" | best)"
printf "  video total      %7.3f s\n" "$(printf '%s\n' "${tot[@]}" | best)"
printf "  process (loads)  %7.3f s\n" "$(printf '%s\n' "${wall[@]}" | best)"
echo "  frames in the output: $frames"
