#!/usr/bin/env bash
# The README's seed table (issue 16): the demo's settings on two corpora
# (vtag synth --seed 7, the demo's, and --seed 23), three training seeds each,
# then vtag eval's JSON per run and the mean ± sd table (scripts/seeds_table.py);
# each seed also trains att2in at hidden 256 with --keep-tag-order on the same features
# (rows "att2in-256…").
# usage: scripts/seeds.sh [BUILD] [OUT]   (BUILD: build; OUT: seeds) — about 70 min on 2 cores
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
    # att2in at hidden 256 on the same backbone and features, each caption's tags
    # in the labels file's order, trained as the pipeline trains its models (XE 15
    # epochs, then SCST 6 from the best XE checkpoint)
    wide=$run-a256
    mkdir -p "$wide"
    for f in features-train features-val features-test backbone; do
      ln -sf "$(cd "$run" && pwd)/$f.safetensors" "$wide/$f.safetensors"
    done
    common=(--labels "$out/corpus$c/labels.jsonl" --feats "$wide/features-train.safetensors"
            --val-feats "$wide/features-val.safetensors" --seed $s --keep-tag-order)
    "$vtag" train "${common[@]}" --model att2in --epochs 15 --input-encoding-size 256 --rnn-size 256 \
      --att-hid-size 256 --batch 50 --out "$wide/att2in-xe.safetensors" --log "$wide/att2in-xe.log.jsonl" --resume \
      2> "$wide.xe.err"
    "$vtag" train "${common[@]}" --init "$wide/att2in-xe.safetensors" --scst --baseline mean --sample-n 5 --epochs 6 \
      --out "$wide/att2in.safetensors" --log "$wide/att2in.log.jsonl" --resume 2> "$wide.scst.err"
    "$vtag" eval --from "$wide" --labels "$out/corpus$c/labels.jsonl" --split test --json --keep-tag-order \
      --report "$wide.report.html" > "$wide.eval.json" 2> "$wide.eval.err"
  done
done
/usr/bin/python3 "$(dirname "$0")/seeds_table.py" "$out"
