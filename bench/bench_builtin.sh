#!/usr/bin/env bash
# Training throughput of the built-in backbone (vtag backbone train, default
# network: 64 px, widths 16/32/64/128) against its PyTorch twin
# (bench/builtin_train.py: same net, batch 32, Adam, BCE) in the same run, on
# the training frames of a 60-video synth corpus; best epoch of 3, frames/s,
# with 1 and with 2 threads (PyTorch: the better of as shipped and
# OMP_WAIT_POLICY=passive), vtag on each kernel path this CPU runs
# (bench/paths.sh). The corpus goes to $build/bench/builtin.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
vtag=$build/vtag
py=${VTAG_PYTHON:-/usr/bin/python3}
dir=$build/bench/builtin
mkdir -p "$dir"
[ -f "$dir/corpus/labels.jsonl" ] || "$vtag" synth --out "$dir/corpus" --videos 60 --seed 1 --quiet
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
. "$here/paths.sh"
paths=$(bench_paths "$build")
for t in 1 2; do
  theirs=
  for p in $paths; do
    # shellcheck disable=SC2046
    env $(bench_path_env "$p") "$vtag" backbone train --labels "$dir/corpus/labels.jsonl" --out "$dir/b.safetensors" \
      --epochs 3 --threads $t 2> "$dir/train.err" || { cat "$dir/train.err" >&2; exit 1; }
    head=$(grep -m1 'training frames' "$dir/train.err")
    n=$(echo "$head" | sed -n 's/.*: \([0-9]*\) training frames.*/\1/p')
    v=$(echo "$head" | sed -n 's/.* \([0-9]*\) labels.*/\1/p')
    ours=$(grep '^{"epoch"' "$dir/train.err" | sed 's/.*"frames_per_s": \([0-9.]*\).*/\1/' | sort -g | tail -1)
    if [ -z "$theirs" ]; then # PyTorch's best of as shipped and OMP_WAIT_POLICY=passive
      a=$("$py" "$here/builtin_train.py" "$n" "$v" 64 16,32,64,128 3 $t)
      b=$(OMP_WAIT_POLICY=passive "$py" "$here/builtin_train.py" "$n" "$v" 64 16,32,64,128 3 $t)
      echo "PyTorch twin, $t thread(s): as shipped $a frames/s, passive $b frames/s"
      theirs=$(printf '%s\n%s\n' "$a" "$b" | sort -g | tail -1)
    fi
    echo "threads $t, path $p: $n frames, $v labels: vtag $ours frames/s, PyTorch $theirs frames/s, ratio $(echo "$ours $theirs" | awk '{printf "%.2f", $1/$2}')x"
    echo "$ours $theirs" | awk -v t=$t -v p="$p" '{ printf "builtin_ratio threads=%s path=%s vtag=%s torch=%s ratio=%.2f\n", t, p, $1, $2, $1 / $2 }'
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
