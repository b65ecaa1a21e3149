#!/usr/bin/env bash
# Tagging one video end to end, stage by stage: `vtag tag --timing` on a 60 s
# 1280x720 H.264 clip (2 s GOPs), uniform:16 at 224 px, through torchvision's
# resnet18 exported to ONNX (random weights: the cost does not depend on them)
# and a topdown caption model at the SPEC sizes (E = R = A = 512, vocabulary
# of the demo corpus' size). Prints the best of $VTAG_BENCH_REPS runs
# (default 3) of each stage — decode, backbone, caption — and of the whole
# process (loading the models included), on each kernel path this CPU runs
# (bench/paths.sh). Made in $build/bench/tag.
# Against it, in the same run and interleaved: what a user would otherwise
# write (bench/tag_reference.sh: ffmpeg -vf fps=16/60 extracting the 16
# frames at 224 px, then torchvision's resnet18 on them in /usr/bin/python3,
# eval, no_grad), the whole script timed, in its best configuration of two:
# torch as shipped, and OMP_WAIT_POLICY=PASSIVE with $threads threads. Then
# videos per hour per core, for one video and for `vtag tag` on 8 files.
# A second vtag row samples keyframes:16 (the keyframe nearest each of the
# 16 targets, each decoded alone from its one packet), interleaved with the
# first, against the same reference.
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

[ -f resnet18.pth ] || $py "$here/tag_reference.py" --save resnet18.pth # torchvision's resnet18 (random weights)
for i in 1 2 3 4 5 6 7 8; do ln -sf $clip many$i.mp4; done

best() { sort -g | head -1; }
secs() { # the wall seconds of a command, its output dropped
  local s e
  s=$(date +%s%N)
  "$@" > /dev/null 2>&1 || { echo "bench_tag: failed: $*" >&2; exit 1; }
  e=$(date +%s%N)
  awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
. "$here/paths.sh"
paths=$(bench_paths "$build")
rec=$(mktemp -d)
trap 'rm -rf "$rec"' EXIT
# One line per measure in $rec/<measure>, the kernel path in the file name for vtag's.

# One timed `vtag tag --timing` of the clip on path $p with env $pe: the
# stages' seconds and the process's wall time appended to $rec/<K>dec_$p …
# <K>wall_$p (K: "" for uniform:16, "k" for keyframes:16); tags in OUT.
tag_once() { # tag_once K OUT [vtag tag options...]
  local k=$1 out=$2 s e line
  shift 2
  s=$(date +%s%N)
  # shellcheck disable=SC2086
  env $pe "$vtag" tag --checkpoint topdown.safetensors --backbone resnet18.onnx --threads "$threads" --timing \
    "$@" $clip > "$out" 2> timing.txt
  e=$(date +%s%N)
  line=$(grep "frames, decode" timing.txt)
  sed -E 's/.*decode ([0-9.]+) s.*/\1/' <<< "$line" >> "$rec/${k}dec_$p"
  sed -E 's/.*backbone ([0-9.]+) s.*/\1/' <<< "$line" >> "$rec/${k}bb_$p"
  sed -E 's/.*caption ([0-9.]+) s.*/\1/' <<< "$line" >> "$rec/${k}cap_$p"
  sed -E 's/.*total ([0-9.]+) s.*/\1/' <<< "$line" >> "$rec/${k}tot_$p"
  awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >> "$rec/${k}wall_$p"
}
for ((r = 0; r < reps; r++)); do
  secs bash "$here/tag_reference.sh" $clip resnet18.pth ref 16 0 >> "$rec/ref_shipped"; echo >> "$rec/ref_shipped"
  OMP_WAIT_POLICY=PASSIVE secs bash "$here/tag_reference.sh" $clip resnet18.pth ref 16 "$threads" >> "$rec/ref_passive"
  echo >> "$rec/ref_passive"
  for p in $paths; do
    pe=$(bench_path_env "$p")
    s=$(date +%s%N)
    # shellcheck disable=SC2086
    env $pe "$vtag" tag --checkpoint topdown.safetensors --backbone resnet18.onnx --threads "$threads" \
      many1.mp4 many2.mp4 many3.mp4 many4.mp4 many5.mp4 many6.mp4 many7.mp4 many8.mp4 > /dev/null 2>&1 ||
      { echo "bench_tag: vtag tag on 8 files failed ($p)" >&2; exit 1; }
    e=$(date +%s%N)
    awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >> "$rec/many_$p"
    tag_once "" tag.jsonl
    tag_once k tag_kf.jsonl --sample keyframes:16
  done
done
frames=$(grep -c pts_seconds <(tr '{' '\n' < tag.jsonl) || true)
kframes=$(grep -c pts_seconds <(tr '{' '\n' < tag_kf.jsonl) || true)
rs=$(grep . "$rec/ref_shipped" | best)
rp=$(grep . "$rec/ref_passive" | best)
rb=$(printf '%s\n%s\n' "$rs" "$rp" | best)
printf "reference (ffmpeg -vf fps=16/60 + torchvision resnet18, whole script): as shipped %.3f s, passive %d threads %.3f s\n" \
  "$rs" "$threads" "$rp"
for p in $paths; do
  echo "tag one 60 s 720p video, uniform:16 at 224 px, resnet18 (ONNX) + topdown 512, path $p, $threads threads, best of $reps (load $(cut -d' ' -f1 /proc/loadavg)):"
  printf "  decode + scale   %7.3f s\n" "$(best < "$rec/dec_$p")"
  printf "  backbone         %7.3f s\n" "$(best < "$rec/bb_$p")"
  printf "  caption          %7.3f s\n" "$(best < "$rec/cap_$p")"
  printf "  video total      %7.3f s\n" "$(best < "$rec/tot_$p")"
  w=$(best < "$rec/wall_$p")
  m=$(best < "$rec/many_$p")
  printf "  process (loads)  %7.3f s\n" "$w"
  echo "  frames in the output: $frames"
  awk -v r="$rb" -v w="$w" -v p="$p" 'BEGIN { printf "vtag tag (%s) against the reference: %.2fx (target >= 5x)\n", p, r / w
    printf "tag_ratio path=%s vtag=%.3f reference=%.3f ratio=%.2f\n", p, w, r, r / w }'
  awk -v w="$w" -v m="$m" -v c="$threads" 'BEGIN {
    printf "videos per hour per core (%d cores): one video %.0f (process %.3f s); 8 videos in one vtag tag %.0f (%.3f s)\n",
      c, 3600 / (w * c), w, 8 * 3600 / (m * c), m }'
  echo "tag one 60 s 720p video, keyframes:16 at 224 px, resnet18 (ONNX) + topdown 512, path $p, $threads threads, best of $reps:"
  printf "  decode + scale   %7.3f s\n" "$(best < "$rec/kdec_$p")"
  printf "  backbone         %7.3f s\n" "$(best < "$rec/kbb_$p")"
  printf "  caption          %7.3f s\n" "$(best < "$rec/kcap_$p")"
  printf "  video total      %7.3f s\n" "$(best < "$rec/ktot_$p")"
  kw=$(best < "$rec/kwall_$p")
  printf "  process (loads)  %7.3f s\n" "$kw"
  echo "  frames in the output: $kframes"
  awk -v r="$rb" -v w="$kw" -v p="$p" 'BEGIN { printf "vtag tag keyframes:16 (%s) against the reference: %.2fx (target >= 5x)\n", p, r / w
    printf "tag_ratio_keyframes path=%s vtag=%.3f reference=%.3f ratio=%.2f\n", p, w, r, r / w }'
done
