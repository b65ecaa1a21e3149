#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/: labels from
# vtag synth, checkpoints and backbone files from the library's own writers (fuzz_make_seeds),
# ONNX models from reference/export_backbones.py and Debian's libonnx-testdata, clips from the
# ffmpeg CLI, and a few text lines for each format's corner cases. Files named regress-* (fixed
# findings, kept as regression inputs) are left alone.
# usage: tests/fuzz/make_seeds.sh [BUILD_DIR]   (a build with vtag and fuzz/fuzz_make_seeds; default build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=$here/corpus
python=${VTAG_PYTHON:-/usr/bin/python3}
testdata=/usr/share/libonnx-testdata/data/node
tmp=$(mktemp -d /tmp/vtag-seeds.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

targets="labels_jsonl labels_csv checkpoint backbone onnx results video"
for t in $targets; do
  mkdir -p "$out/$t"
  find "$out/$t" -maxdepth 1 -type f ! -name 'regress-*' -delete
done

# ---- labels ------------------------------------------------------------------------------------
"$build/vtag" synth --out "$tmp/synth" --videos 4 --shapes --quiet --threads 1
cp "$tmp/synth/labels.jsonl" "$out/labels_jsonl/synth.jsonl"
# A UTF-8 byte-order mark, CJK labels, escapes, a null split, blank lines, an absolute path and a URL.
printf '\xef\xbb\xbf{"video": "clips/v1.mp4", "class1": "游戏", "class2": "王者荣耀", "tags": ["李白", "五杀"], "split": "train"}\n\n' \
  >"$out/labels_jsonl/edge.jsonl"
cat >>"$out/labels_jsonl/edge.jsonl" <<'JSONL'
{"video": "/abs/v2.mp4", "class1": "sport", "class2": "ice hockey", "tags": [], "split": null}
  {"video": "https://example.com/v3.webm", "class1": "a\u00e9\"b", "class2": "c\\d", "tags": ["x y", "UNK"], "split": "val"}
{"split": "test", "tags": ["x y"], "class2": "c\\d", "class1": "sport", "video": "v4"}
JSONL
"$python" - "$tmp/synth/labels.jsonl" "$out/labels_csv/synth.csv" <<'PY'
import csv, json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["video", "class1", "class2", "tags", "split"])
    for r in rows:
        w.writerow([r["video"], r["class1"], r["class2"], "|".join(r["tags"]), r.get("split") or ""])
PY
# Columns in another order, quoted commas and quotes, spaces to trim, CRLF; then no split column;
# then a quoted line break (read as a field, refused as a control character in a label).
printf 'split,tags,video,class2,class1\r\ntrain, a | b ,"clips/v,2.mp4",ice hockey,体育\r\nval,,"say ""hi"".mp4","two, b",x\r\n\r\n' \
  >"$out/labels_csv/edge.csv"
printf 'video,class1,class2,tags\nv1.mp4,"two\nlines",b,\n' >"$out/labels_csv/linebreak.csv"
printf 'video,class1,class2,tags\nv1.mp4,游戏,王者荣耀,李白|五杀\nv2.mp4,游戏,王者荣耀,\n' >"$out/labels_csv/nosplit.csv"

# ---- checkpoints, features, built-in backbone ---------------------------------------------------------------
"$build/fuzz/fuzz_make_seeds" "$out"

# ---- ONNX ----------------------------------------------------------------------------------------
"$python" "$root/reference/export_backbones.py" --out "$tmp/onnx" --models= --tiny >/dev/null
cp "$tmp/onnx/tiny.onnx" "$tmp/onnx/tiny_fixed.onnx" "$out/onnx/"
# one small operator test per supported operator
for t in conv_with_strides_padding batchnorm_example maxpool_2d_pads averagepool_2d_pads globalaveragepool \
         relu clip sigmoid hardsigmoid hardswish add_bcast mul_bcast gemm_all_attributes matmul_2d flatten_axis1 \
         reshape_negative_dim identity unsqueeze_axis_0 concat_2d_axis_0 constant shape gather_0 constant_pad \
         cast_FLOAT_to_DOUBLE; do
  cp "$testdata/test_$t/model.onnx" "$out/onnx/node_$t.onnx"
done

# ---- score and tag files ---------------------------------------------------------------------------------
cat >"$out/results/captions.jsonl" <<'JSONL'
{"id": 17, "cand": "游戏 王者荣耀 李白", "refs": ["游戏 王者荣耀 李白 五杀", "游戏 王者荣耀"]}
{"id": "b", "cand": ["ice hockey", "goal"], "refs": [["ice hockey", "goal", "goal"], "a b c d e"]}

{"cand": "", "refs": ["x"]}
JSONL
cat >"$out/results/df.jsonl" <<'JSONL'
{"refs": ["a b c d", "a b"]}
{"id": null, "refs": [["a", "b c"]]}
JSONL
cat >"$out/results/multilabel.jsonl" <<'JSONL'
{"id": "v1", "pred": [["游戏", 0.91], ["体育", 0.35]], "true": ["游戏"]}
{"id": "v2", "pred": [], "true": ["体育", "x"]}
{"pred": [["x", -1e300], ["体育", 0.5]], "true": []}
JSONL
cat >"$out/results/tags.jsonl" <<'JSONL'
{"video": "clips/v1.mp4", "class1": "游戏", "class2": "王者荣耀", "tags": [{"label": "游戏", "frames": 2, "score": 1.0}, {"label": "李白", "frames": 1, "score": 0.5}], "labels": [{"label": "游戏", "frames": 2, "score": 1.0}, {"label": "王者荣耀", "frames": 2, "score": 1.0}, {"label": "李白", "frames": 1, "score": 0.5}], "frames": [{"pts_seconds": 0.5, "tokens": ["游戏", "王者荣耀", "李白"]}, {"pts_seconds": 1.5, "tokens": ["游戏", "王者荣耀"]}]}
{"video": "clips/bad.mp4", "error": "clips/bad.mp4: not a media file"}
{"video": "v3", "class1": null, "class2": null, "tags": [], "labels": [], "frames": [{"pts_seconds": 0, "tokens": []}]}
JSONL
cat >"$out/results/tags_short.jsonl" <<'JSONL'
{"video": "v1", "class1": "a", "class2": "b", "tags": [{"label": "a", "frames": 1, "score": 0.25}]}
JSONL

cat >"$out/results/baseline.jsonl" <<'JSONL'
{"video": "clips/v1.mp4", "labels": [{"label": "李白", "score": 0.75}, {"label": "游戏", "score": 0.5}, {"label": "王者荣耀", "score": 0.5}], "frames": [{"pts_seconds": 0.5, "labels": [{"label": "李白", "score": 0.75}]}]}
{"video": "v2", "error": "v2: not a media file"}
{"video": "v3", "labels": [{"label": "b", "score": 1e-3}, {"label": "a", "score": 0}]}
JSONL
cat >"$out/results/trainlog.jsonl" <<'JSONL'
{"epoch": 1, "phase": "xe", "loss": 2.5, "lr": 0.0005, "val_cider_d": null, "seconds": 1.5, "best": true, "tokens_per_s": 1000}
{"epoch": 2, "phase": "scst", "loss": -0.1, "lr": 5e-05, "val_cider_d": 0.8, "seconds": 2, "best": false, "captions_per_s": 90, "reward": 0.7, "advantage": 0.01, "greedy_cider_d": null}
JSONL

# ---- video clips: 32×32, 6 frames at 5 fps, a keyframe every 3 ---------------------------------------------
src=(-f lavfi -i "testsrc2=size=32x32:rate=5:duration=1.2")
# bitexact: no encoder versions or random ids in the files, so a rerun gives the same bytes
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "${src[@]}" -fflags +bitexact -flags:v +bitexact "$@"; }
ff -c:v libx264 -preset ultrafast -g 3 -pix_fmt yuv420p "$out/video/h264.mp4"
# the rotation tag is written only on a stream copy (as tests/video/make_clips.sh does)
ffmpeg -nostdin -hide_banner -loglevel error -y -i "$out/video/h264.mp4" -c copy -fflags +bitexact -metadata:s:v:0 rotate=90 \
  "$out/video/rotated.mp4"
ff -c:v libx264 -preset ultrafast -g 3 -pix_fmt yuv420p -bsf:v h264_mp4toannexb "$out/video/h264.ts"
ff -c:v mpeg4 -g 3 -q:v 10 "$out/video/mpeg4.mkv"
ff -c:v mjpeg -q:v 20 "$out/video/mjpeg.avi"
ff -c:v libvpx -g 3 -b:v 50k "$out/video/vp8.webm"
ff -vf "split[a][b];[a]palettegen=max_colors=16[p];[b][p]paletteuse" -f gif "$out/video/clip.gif"

# The replay tests and run.sh read these folders; report what was written.
for t in $targets; do
  printf '%-14s %3d files %7d bytes\n' "$t" "$(find "$out/$t" -type f | wc -l)" "$(cat "$out/$t"/* | wc -c)"
done
