#!/usr/bin/env bash
# vtag probe / vtag frames from the command line: output files, JSON lines,
# one-line errors and the documented exit codes. $1 is the vtag binary; runs
# in the fixtures folder after make_clips.sh.
set -uo pipefail
vtag=$1
fails=0
check() { # description, condition (evaluated)
  if eval "$2"; then :; else echo "FAIL: $1 ($2)" >&2; fails=$((fails + 1)); fi
}
out=video/cli
rm -rf "$out"
mkdir -p "$out"

# probe: one JSON line per video, with the documented fields
"$vtag" probe video/h264.mp4 video/rot90.mp4 video/vp9.webm > "$out/probe.jsonl" 2> "$out/probe.err"
check "probe exit 0" "[ $? -eq 0 ]"
check "probe prints 3 lines" "[ \$(wc -l < $out/probe.jsonl) -eq 3 ]"
for field in video container codec duration_seconds frame_rate width height rotation display_width display_height frames keyframes; do
  check "probe field $field" "grep -q '\"$field\": ' $out/probe.jsonl"
done
check "probe h264" "grep -q '\"video\": \"video/h264.mp4\", \"container\": \"mov,mp4,m4a,3gp,3g2,mj2\", \"codec\": \"h264\", \"duration_seconds\": 4.0, \"frame_rate\": 25.0, \"width\": 320, \"height\": 240, \"rotation\": 0, \"display_width\": 320, \"display_height\": 240, \"frames\": 100, \"keyframes\": 4' $out/probe.jsonl"
check "probe rotation" "grep -q '\"rotation\": 270, \"display_width\": 180, \"display_height\": 320' $out/probe.jsonl"
check "probe webm keyframes by scan" "grep -q '\"codec\": \"vp9\".*\"frames\": 75, \"keyframes\": 3, \"index\": \"scan\"' $out/probe.jsonl"
check "probe quiet on success" "[ ! -s $out/probe.err ]"

# probe on bad files: one line each on stderr, exit 1, good files still done
printf 'not a video\n' > "$out/text.mp4"
: > "$out/empty.mp4"
"$vtag" probe "$out/text.mp4" video/h264.mp4 "$out/empty.mp4" video/audio.mp4 > "$out/bad.jsonl" 2> "$out/bad.err"
check "probe bad exit 1" "[ $? -eq 1 ]"
check "probe bad: 3 error lines" "[ \$(wc -l < $out/bad.err) -eq 3 ]"
check "probe bad: good file still probed" "[ \$(wc -l < $out/bad.jsonl) -eq 1 ]"
check "probe bad: text" "grep -q '^vtag probe: $out/text.mp4: not a media file' $out/bad.err"
check "probe bad: empty" "grep -q '^vtag probe: $out/empty.mp4: empty file' $out/bad.err"
check "probe bad: audio" "grep -q '^vtag probe: video/audio.mp4: no video stream' $out/bad.err"

# frames: PNGs and frames.jsonl
"$vtag" frames video/h264.mp4 video/vp9.webm --sample uniform:5 --size 64 --out "$out/f" 2> "$out/f.err"
check "frames exit 0" "[ $? -eq 0 ]"
check "frames quiet on success" "[ ! -s $out/f.err ]"
check "frames: 10 lines" "[ \$(wc -l < $out/f/frames.jsonl) -eq 10 ]"
check "frames: 10 PNGs" "[ \$(ls $out/f/*.png | wc -l) -eq 10 ]"
check "frames: line format" "grep -q '^{\"video\": \"video/h264.mp4\", \"index\": 2, \"pts_seconds\": 2.0, \"file\": \"h264_00002.png\", \"target_seconds\": 2.0}$' $out/f/frames.jsonl"
check "frames: PNG size" "ffprobe -v error -show_entries stream=width,height -of csv=p=0 $out/f/h264_00002.png | grep -qx '64,64'"
check "frames: no temporary files" "! ls $out/f | grep -q tmp"
# the default sampler and size
"$vtag" frames video/rot90.mp4 --out "$out/d" 2> "$out/d.err"
check "frames default exit 0" "[ $? -eq 0 ]"
check "frames default: 16 frames" "[ \$(wc -l < $out/d/frames.jsonl) -eq 16 ]"
check "frames default: 224 px" "ffprobe -v error -show_entries stream=width,height -of csv=p=0 $out/d/rot90_00000.png | grep -qx '224,224'"
# options: keyframes with a range and a cap, same stem twice
"$vtag" frames video/h264.mp4 --sample keyframes --start 0.5 --max-frames 2 --size 32 --out "$out/k" video/h264.mp4 2> "$out/k.err"
check "frames keyframes exit 0" "[ $? -eq 0 ]"
check "frames keyframes: 2+2 lines" "[ \$(wc -l < $out/k/frames.jsonl) -eq 4 ]"
check "frames keyframes: at 1 s" "grep -q '\"index\": 0, \"pts_seconds\": 1.0, \"file\": \"h264_00000.png\"' $out/k/frames.jsonl"
check "frames keyframes: second copy renamed" "grep -q '\"file\": \"h264-2_00001.png\"' $out/k/frames.jsonl"
# keyframes:N: the keyframe nearest each of uniform:N's targets (0.5 s ties with 0 and 1 s: the earlier)
"$vtag" frames video/h264.mp4 --sample keyframes:4 --start 0 --end 4 --size 32 --out "$out/kn" 2> "$out/kn.err"
check "frames keyframes:4 exit 0" "[ $? -eq 0 ]"
check "frames keyframes:4: 4 lines" "[ \$(wc -l < $out/kn/frames.jsonl) -eq 4 ]"
check "frames keyframes:4: target and keyframe" "grep -q '\"index\": 1, \"pts_seconds\": 1.0, \"file\": \"h264_00001.png\", \"target_seconds\": 1.5}' $out/kn/frames.jsonl"
"$vtag" frames video/h264.mp4 --sample keyframes:0 --out "$out/kz" 2> "$out/kz.err"
check "frames keyframes:0 exit 2" "[ $? -eq 2 ]"
check "frames keyframes:0: one line" "[ \$(wc -l < $out/kz.err) -eq 1 ] && grep -q 'keyframes:N needs a whole N' $out/kz.err"

# damaged: frames that decode, a count of damaged packets, exit 3
sz=$(stat -c %s video/h264.mp4)
head -c $((sz / 2)) video/h264.mp4 > "$out/half.mp4"
"$vtag" frames "$out/half.mp4" --size 32 --out "$out/h" 2> "$out/h.err"
check "frames truncated exit 3" "[ $? -eq 3 ]"
check "frames truncated: one line" "[ \$(wc -l < $out/h.err) -eq 1 ]"
check "frames truncated: message" "grep -q '^vtag frames: $out/half.mp4: damaged stream: [0-9]* of 16 frames decoded, [1-9][0-9]* damaged packets, file cut short' $out/h.err"
check "frames truncated: frames written" "[ \$(wc -l < $out/h/frames.jsonl) -ge 4 ]"
# not videos: exit 1, one line each, other videos still done
"$vtag" frames "$out/text.mp4" "$out/empty.mp4" video/audio.mp4 video/h264.mp4 --sample uniform:2 --size 32 --out "$out/b" 2> "$out/b.err"
check "frames bad exit 1" "[ $? -eq 1 ]"
check "frames bad: 3 lines" "[ \$(wc -l < $out/b.err) -eq 3 ]"
check "frames bad: good video done" "[ \$(wc -l < $out/b/frames.jsonl) -eq 2 ]"
# usage errors: exit 2
"$vtag" frames video/h264.mp4 2> /dev/null
check "frames without --out: exit 2" "[ $? -eq 2 ]"
"$vtag" frames video/h264.mp4 --out "$out/u" --sample bogus:3 2> "$out/u.err"
check "bad sampler: exit 2" "[ $? -eq 2 ]"
check "bad sampler: message" "grep -q \"unknown sampler 'bogus:3'\" $out/u.err"
"$vtag" frames video/h264.mp4 --out "$out/u" --size 0 2> /dev/null
check "bad size: exit 2" "[ $? -eq 2 ]"
"$vtag" probe 2> /dev/null
check "probe without files: exit 2" "[ $? -eq 2 ]"
"$vtag" frames --help > "$out/help.txt"
check "frames --help exit 0" "[ $? -eq 0 ]"
check "frames --help documents exit 3" "grep -q '3 a damaged stream' $out/help.txt"
"$vtag" --help | grep -q '^  frames' 
check "vtag --help lists frames" "[ $? -eq 0 ]"

# Widths where libswscale writes past the end of a packed RGB row (170 px at
# size 128 overran a buffer allocated to the exact size; ASan aborts on it).
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=170x128:rate=10:duration=1 \
  -pix_fmt yuv420p "$out/w170.mp4"
"$vtag" frames "$out/w170.mp4" --sample uniform:16 --size 128 --out "$out/w170" 2> "$out/w170.err"
check "frames of a 170x128 clip at size 128" "[ $? -eq 0 ]"

if [ "$fails" -ne 0 ]; then echo "video/cli: $fails failed"; exit 1; fi
echo "video/cli: all passed"
