#!/usr/bin/env bash
# The reference of bench_tag.sh: what a user would otherwise write to tag one
# video. ffmpeg extracts N frames (fps=N/duration, shorter side scaled to 224,
# centre crop, PNG), then tag_reference.py runs torchvision's resnet18 on them
# in /usr/bin/python3. bench_tag.sh times this whole script, process starts
# included. Usage: tag_reference.sh VIDEO WEIGHTS.pth OUTDIR [N [THREADS]]
set -euo pipefail
video=$1 weights=$2 out=$3 n=${4:-16} threads=${5:-0}
here=$(cd "$(dirname "$0")" && pwd)
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$video")
rm -rf "$out" && mkdir -p "$out"
ffmpeg -nostdin -hide_banner -loglevel error -i "$video" \
  -vf "fps=$n/$dur,scale=-1:224:flags=bicubic,crop=224:224" -frames:v "$n" "$out/%03d.png"
exec /usr/bin/python3 "$here/tag_reference.py" "$weights" "$out" "$video" "$threads"
