#!/usr/bin/env bash
# Scaling on this machine (issue 20): the same work as 1 rank x 1 thread,
# 1 rank x 2 threads and 2 ranks x 1 thread (mpirun on loopback), side by side
# in one run:
#   - XE and SCST steps of fc, att2in and topdown at the SPEC §9 sizes
#     (bench_mpi: the trainer's own sharded steps; one rank trains the whole
#     batch at once, two ranks one micro-batch each), with the gradient sum's
#     time per step and its share of the step (after a barrier: the wait for
#     the slower rank is printed apart);
#   - `vtag tag` on 8 clips of 20 s 1280x720 (resnet18 ONNX + topdown at the
#     SPEC sizes, uniform:16), videos per second.
# The machine should be quiet: two configurations never run at once.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
vtag=$build/vtag
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,tcp --mca btl_tcp_if_include lo
     --mca mpi_yield_when_idle 1)
export OMP_WAIT_POLICY=passive
xe=${VTAG_BENCH_XE_STEPS:-6}
scst=${VTAG_BENCH_SCST_STEPS:-6}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in fc att2in topdown; do
  "$build/bench/bench_mpi" $m 1 1 "$xe" "$scst"
  "$build/bench/bench_mpi" $m 2 1 "$xe" "$scst"
  "${mpi[@]}" -np 2 "$build/bench/bench_mpi" $m 1 2 "$xe" "$scst"
done

# vtag tag: the clip, resnet18.onnx and topdown.safetensors of bench_tag.sh's folder
dir=$build/bench/tag
if [ ! -f "$dir/topdown.safetensors" ] || [ ! -f "$dir/resnet18.onnx" ]; then
  VTAG_BENCH_REPS=1 bash "$here/bench_tag.sh" "$build" > /dev/null
fi
mkdir -p "$dir/mpi"
cd "$dir/mpi"
if [ ! -f clip20.mp4 ]; then
  ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=1280x720:r=30:d=20 \
    -c:v libx264 -preset veryfast -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p clip20.tmp.mp4
  mv clip20.tmp.mp4 clip20.mp4
fi
for i in 1 2 3 4 5 6 7 8; do ln -sf clip20.mp4 v$i.mp4; done
tag=(tag --checkpoint ../topdown.safetensors --backbone ../resnet18.onnx v1.mp4 v2.mp4 v3.mp4 v4.mp4 v5.mp4
     v6.mp4 v7.mp4 v8.mp4)
run() { # label, then the command; prints videos/s
  local l=$1 s e
  shift
  s=$(date +%s%N)
  "$@" > out.jsonl 2> err.txt || { cat err.txt; exit 1; }
  e=$(date +%s%N)
  awk -v l="$l" -v s="$s" -v e="$e" -v n="$(wc -l < out.jsonl)" \
    'BEGIN { t = (e - s) / 1e9; printf "mpi tag %s videos=%d seconds=%.2f videos_per_s=%.3f\n", l, n, t, n / t }'
}
run "ranks=1 threads=1" "$vtag" "${tag[@]}" --threads 1
cp out.jsonl one.jsonl
run "ranks=1 threads=2" "$vtag" "${tag[@]}" --threads 2
run "ranks=2 threads=1" "${mpi[@]}" -np 2 "$vtag" "${tag[@]}" --threads 1
cmp -s one.jsonl out.jsonl && echo "mpi tag: -np 2 output = one process output (bytes)" || echo "mpi tag: OUTPUTS DIFFER"
# CPU-seconds per video by stage (one thread, the 60 s clip of bench_tag.sh), and the bytes of
# features per video (fc + att float32 rows of 16 frames), for the plan in docs/ARCHITECTURE.md
"$vtag" tag --checkpoint ../topdown.safetensors --backbone ../resnet18.onnx --threads 1 --timing \
  ../clip60.mp4 > /dev/null 2> timing.txt
sed -nE 's/.*decode ([0-9.]+) s.*backbone ([0-9.]+) s.*caption ([0-9.]+) s.*/mpi cpu_seconds_per_video decode=\1 backbone=\2 caption=\3 (60 s 720p, uniform:16, resnet18 + topdown 512, 1 thread)/p' timing.txt
echo "mpi feature_bytes_per_video resnet18=$(( (512 + 49 * 512) * 4 * 16 )) resnet50=$(( (2048 + 49 * 2048) * 4 * 16 )) (16 frames, fc + 7x7 att, float32)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
