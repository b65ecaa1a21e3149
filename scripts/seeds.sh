#!/usr/bin/env bash
# The README's seed table (issue 16): the demo's settings on two corpora
# (vtag synth --seed 7, the demo's, and --seed 23), three training seeds each,
# then vtag eval's JSON per run and the mean ± sd table (scripts/seeds_table.py).
# usage: scripts/seeds.sh [BUILD] [OUT]   (BUILD: build; OUT: seeds) — about 45 min on 2 cores
set -euo pipefail
build=${1:-build}
vtag=$(cd "$build" && pwd)/vtag
out=${2:-seeds}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
mkdir -p "$out"
for c in 7 23; do
  [ -f "$out/corpus$c/labels.jsonl" ] || "$vtag" synth --out "$out/corpus$c" --videos 400 --seed $c --quiet
  for s in 1 2 3; do
    run=$out/run-c$c-s$s
    echo "== corpus $c, seed $s: $(date +%T)"
    "$vtag" pipeline --labels "$out/corpus$c/labels.jsonl" --out "$run" --model all --sample uniform:12 \
      --hidden 128 --xe-epochs 15 --scst-epochs 6 --seed $s > "$run.pipe.txt" 2> "$run.pipe.err"
    "$vtag" eval --from "$run" --labels "$out/corpus$c/labels.jsonl" --split test --json \
      --report "$run.report.html" > "$run.eval.json" 2> "$run.eval.err"
  done
done
/usr/bin/python3 "$(dirname "$0")/seeds_table.py" "$out"
