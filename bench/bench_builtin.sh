#!/usr/bin/env bash
# Training throughput of the built-in backbone (vtag backbone train, default
# network: 64 px, widths 16/32/64/128) against its PyTorch twin
# (bench/builtin_train.py: same net, batch 32, Adam, BCE) in the same run, on
# the training frames of a 60-video synth corpus; best epoch of 3, frames/s,
# with 1 and with 2 threads. The corpus goes to $build/bench/builtin.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
vtag=$build/vtag
py=${VTAG_PYTHON:-/usr/bin/python3}
dir=$build/bench/builtin
mkdir -p "$dir"
[ -f "$dir/corpus/labels.jsonl" ] || "$vtag" synth --out "$dir/corpus" --videos 60 --seed 1 --quiet
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for t in 1 2; do
  "$vtag" backbone train --labels "$dir/corpus/labels.jsonl" --out "$dir/b.safetensors" --epochs 3 \
    --threads $t 2> "$dir/train.err" || { cat "$dir/train.err" >&2; exit 1; }
  head=$(grep -m1 'training frames' "$dir/train.err")
  n=$(echo "$head" | sed -n 's/.*: \([0-9]*\) training frames.*/\1/p')
  v=$(echo "$head" | sed -n 's/.* \([0-9]*\) labels.*/\1/p')
  ours=$(grep '^{"epoch"' "$dir/train.err" | sed 's/.*"frames_per_s": \([0-9.]*\).*/\1/' | sort -g | tail -1)
  theirs=$("$py" "$here/builtin_train.py" "$n" "$v" 64 16,32,64,128 3 $t)
  echo "threads $t: $n frames, $v labels: vtag $ours frames/s, PyTorch $theirs frames/s, ratio $(echo "$ours $theirs" | awk '{printf "%.2f", $1/$2}')x"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
