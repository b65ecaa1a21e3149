#!/usr/bin/env bash
# Two builds of vtag side by side in one run, for a change that must not cost
# speed (a refactoring): usage  bench/compare_builds.sh OLD_BUILD NEW_BUILD.
# Each measure alternates old and new, $VTAG_BENCH_REPS times (default 3), and
# keeps the best of each:
#   - the XE step (bench_caption) and the SCST step (bench_scst) of fc, att2in
#     and topdown at the SPEC §9 sizes;
#   - `vtag train`: 2 XE epochs then 1 SCST epoch of topdown (hidden 512) on
#     the 50 random feature rows of bench/bench_tag.sh, wall time of each;
#   - `vtag tag --timing` on bench_tag.sh's 60 s 720p clip (resnet18 ONNX +
#     topdown 512): the whole process.
# Prints new/old per measure (1.00 = the same; above 1 = the new build is slower).
# Needs bench/bench_tag.sh's files: it makes them in NEW_BUILD/bench/tag when missing.
set -euo pipefail
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
reps=${VTAG_BENCH_REPS:-3}
threads=${VTAG_BENCH_THREADS:-2}
iters=${VTAG_BENCH_ITERS:-5}
dir=$new/bench/tag
[ -f "$dir/topdown.safetensors" ] && [ -f "$dir/resnet18.onnx" ] || VTAG_BENCH_REPS=1 bash "$here/bench_tag.sh" "$new" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%F)"
echo "old: $old  new: $new  reps: $reps  threads: $threads  load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ms of "<tool> <kind> model=<m> ... ms=<x>" lines, one file per build and rep
for ((r = 0; r < reps; r++)); do
  for b in old new; do
    eval "bd=\$$b"
    "$bd/bench/bench_caption" "$threads" "$iters" >> "$work/xe.$b"
    "$bd/bench/bench_scst" "$threads" "$iters" >> "$work/scst.$b"
  done
done
best_ms() { grep " model=$2 " "$1" | sed 's/.* ms=\([0-9.]*\).*/\1/' | sort -g | head -1; }
for kind in xe scst; do
  for m in fc att2in topdown; do
    o=$(best_ms "$work/$kind.old" $m)
    n=$(best_ms "$work/$kind.new" $m)
    awk -v k="$kind" -v m="$m" -v o="$o" -v n="$n" \
      'BEGIN { printf "%-5s step %-8s old %8.1f ms  new %8.1f ms  new/old %.3f\n", k, m, o, n, n / o }'
  done
done

# vtag train: wall seconds of 2 XE epochs, then of 1 SCST epoch from that checkpoint
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }
for ((r = 0; r < reps; r++)); do
  for b in old new; do
    eval "bd=\$$b"
    rm -f "$work/m.$b"*
    secs "$bd/vtag" train --labels "$dir/labels.jsonl" --feats "$dir/feats.safetensors" --model topdown \
      --epochs 2 --threads "$threads" --seed 1 --out "$work/m.$b.xe.safetensors" >> "$work/trainxe.$b"
    secs "$bd/vtag" train --labels "$dir/labels.jsonl" --feats "$dir/feats.safetensors" --init "$work/m.$b.xe.safetensors" \
      --scst --epochs 1 --threads "$threads" --seed 1 --out "$work/m.$b.scst.safetensors" >> "$work/trainscst.$b"
    secs "$bd/vtag" tag --checkpoint "$dir/topdown.safetensors" --backbone "$dir/resnet18.onnx" --threads "$threads" \
      "$dir/clip60.mp4" >> "$work/tag.$b"
  done
done
cmp -s "$work/m.old.xe.safetensors" "$work/m.new.xe.safetensors" && same_xe=identical || same_xe=DIFFERENT
cmp -s "$work/m.old.scst.safetensors" "$work/m.new.scst.safetensors" && same_scst=identical || same_scst=DIFFERENT
for k in trainxe trainscst tag; do
  o=$(sort -g "$work/$k.old" | head -1)
  n=$(sort -g "$work/$k.new" | head -1)
  case $k in
    trainxe) what="vtag train topdown, 2 XE epochs (checkpoints $same_xe)" ;;
    trainscst) what="vtag train topdown, 1 SCST epoch (checkpoints $same_scst)" ;;
    tag) what="vtag tag, 60 s 720p clip, resnet18 + topdown" ;;
  esac
  awk -v w="$what" -v o="$o" -v n="$n" 'BEGIN { printf "%-62s old %7.3f s  new %7.3f s  new/old %.3f\n", w, o, n, n / o }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
