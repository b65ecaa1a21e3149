#!/usr/bin/env bash
# Frame sampling against the ffmpeg CLI, in the same run, on clips made here
# (cached in $build/bench/video):
#  1. uniform:16 at 224 px on a 300 s 1280x720 H.264 clip with 2 s GOPs:
#     vtag frames vs `ffmpeg -vf fps=16/300,scale,crop` (which decodes all
#     9,000 frames); the target is >= 10x.
#  2. the same sampler on a 60 s clip with 8 s GOPs: the planner (seek or
#     decode on, per target) vs decoding straight through (--strategy
#     linear); the target is "no slower".
# Each figure is the best of $VTAG_BENCH_REPS runs (default 3), vtag and
# ffmpeg interleaved so that both see the same machine load.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
vtag=$build/vtag
dir=$build/bench/video
reps=${VTAG_BENCH_REPS:-3}
mkdir -p "$dir"
cd "$dir"

make_clip() { # name seconds gop_frames
  local name=$1 secs=$2 gop=$3
  local cmd="ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=1280x720:r=30:d=$secs -c:v libx264 -preset veryfast -g $gop -keyint_min $gop -sc_threshold 0 -pix_fmt yuv420p -movflags +faststart $name"
  if [ -f "$name" ] && [ -f "$name.cmd" ] && [ "$(cat "$name.cmd")" = "$cmd" ]; then return; fi
  echo "making $name ($secs s, 1280x720, 30 fps, GOP $gop frames; about a minute per 300 s)..."
  $cmd
  echo "$cmd" > "$name.cmd"
}
make_clip long.mp4 300 60
make_clip gop8.mp4 60 240

# best-of-reps wall time of each command, in ms; the commands run in turn
declare -A best
run_all() { # label:command ...
  for ((r = 0; r < reps; r++)); do
    for spec in "$@"; do
      local label=${spec%%:*} cmd=${spec#*:}
      rm -rf out && mkdir out
      local s e
      s=$(date +%s%N)
      if ! bash -c "$cmd" > /dev/null 2> err.txt; then
        echo "bench_video: failed: $cmd" >&2
        cat err.txt >&2
        exit 1
      fi
      e=$(date +%s%N)
      local ms=$(((e - s) / 1000000))
      if [ -z "${best[$label]:-}" ] || [ "$ms" -lt "${best[$label]}" ]; then best[$label]=$ms; fi
    done
  done
}
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f s", ms / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v x="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=") ? x >= t : x <= t; print ok ? "PASS" : "FAIL" }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); best of $reps runs each"

ff_long="ffmpeg -nostdin -hide_banner -loglevel error -y -i long.mp4 -vf fps=16/300,scale=-1:224:flags=bicubic,crop=224:224 out/%03d.png"
vt_long="$vtag frames long.mp4 --sample uniform:16 --size 224 --out out"
run_all "ff:$ff_long" "vt:$vt_long"
stats=$($vt_long --verbose 2>&1 | sed 's/^vtag frames: long.mp4: //')
echo
echo "300 s 1280x720 H.264, 2 s GOPs (9000 frames), uniform:16 at 224 px"
echo "  ffmpeg: $(secs "${best[ff]}")   $ff_long"
echo "  vtag:   $(secs "${best[vt]}")   $vt_long"
echo "          ($stats)"
x=$(ratio "${best[ff]}" "${best[vt]}")
echo "  vtag is ${x}x faster than the ffmpeg CLI (target >= 10x): $(verdict "$x" ">=" 10)"

vt_auto="$vtag frames gop8.mp4 --sample uniform:16 --size 224 --out out"
vt_lin="$vtag frames gop8.mp4 --sample uniform:16 --size 224 --strategy linear --out out"
ff_8="ffmpeg -nostdin -hide_banner -loglevel error -y -i gop8.mp4 -vf fps=16/60,scale=-1:224:flags=bicubic,crop=224:224 out/%03d.png"
run_all "auto:$vt_auto" "lin:$vt_lin" "ff8:$ff_8"
s_auto=$($vt_auto --verbose 2>&1 | sed 's/^vtag frames: gop8.mp4: //')
s_lin=$($vt_lin --verbose 2>&1 | sed 's/^vtag frames: gop8.mp4: //')
echo
echo "60 s 1280x720 H.264, 8 s GOPs (1800 frames), uniform:16 at 224 px"
echo "  vtag, planner:          $(secs "${best[auto]}")   $vt_auto"
echo "          ($s_auto)"
echo "  vtag, straight through: $(secs "${best[lin]}")   $vt_lin"
echo "          ($s_lin)"
echo "  ffmpeg, straight through: $(secs "${best[ff8]}")   $ff_8"
y=$(ratio "${best[auto]}" "${best[lin]}")
echo "  planner / straight through = $y (target <= 1): $(verdict "$y" "<=" 1)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf out err.txt
