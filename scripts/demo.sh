#!/usr/bin/env bash
# `make demo`: renders the demo corpus, runs the whole pipeline for the four
# caption models (built-in CNN, features, XE, SCST), tags the test videos,
# and prints the comparison table (model × XE/SCST × metrics, and the CNN
# baseline) and the report's path. Sized to finish within about 12 minutes on 2
# cores; rerunning continues where an interrupted run stopped.
# Settings (environment): DEMO_OUT (demo), DEMO_VIDEOS (400), DEMO_THREADS.
set -euo pipefail
build=${1:-build}
vtag=$(cd "$build" && pwd)/vtag
out=${DEMO_OUT:-demo}
videos=${DEMO_VIDEOS:-400}
threads=${DEMO_THREADS:-$(nproc)}
# libgomp's threads spin while they wait; on a machine with other work that
# costs several times the run time, and on an idle one nothing.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
start=$(date +%s)
mkdir -p "$out"

echo "== 1. demo corpus: $videos videos (vtag synth) =="
if [ -f "$out/corpus/.done-$videos" ]; then
  echo "already rendered"
else
  "$vtag" synth --out "$out/corpus" --videos "$videos" --seed 7 --threads "$threads"
  touch "$out/corpus/.done-$videos"
fi

echo "== 2. pipeline: built-in CNN, features, fc / att2in / topdown / video, XE then SCST (vtag pipeline) =="
"$vtag" pipeline --labels "$out/corpus/labels.jsonl" --out "$out/run" --model all \
  --sample uniform:12 --hidden 128 --xe-epochs 15 --scst-epochs 6 --threads "$threads"

echo "== 2b. att2in at hidden 256, tags in the labels' order, on the same features (vtag train: XE, then SCST) =="
# the caption model that is level with the CNN baseline (README, "The demo's table"): each
# caption's tags in the labels file's order (colour, pose, light, ...), not by frequency
wide="$out/run-a256"
mkdir -p "$wide"
for f in features-train features-val features-test backbone; do
  ln -sf "$(cd "$out/run" && pwd)/$f.safetensors" "$wide/$f.safetensors"
done
common=(--labels "$out/corpus/labels.jsonl" --feats "$wide/features-train.safetensors"
        --val-feats "$wide/features-val.safetensors" --threads "$threads" --keep-tag-order)
"$vtag" train "${common[@]}" --model att2in --epochs 15 --input-encoding-size 256 --rnn-size 256 \
  --att-hid-size 256 --batch 50 --out "$wide/att2in-xe.safetensors" --log "$wide/att2in-xe.log.jsonl" --resume
"$vtag" train "${common[@]}" --init "$wide/att2in-xe.safetensors" --scst --baseline mean --sample-n 5 --epochs 6 \
  --out "$wide/att2in.safetensors" --log "$wide/att2in.log.jsonl" --resume

echo "== 3. tag a few test videos (vtag tag) =="
grep -m 3 '"split": "test"' "$out/corpus/labels.jsonl" | sed -E 's/.*"video": "([^"]*)".*/\1/' |
  sed "s|^|$out/corpus/|" > "$out/some-test-videos.txt"
"$vtag" tag --from "$out/run" --list "$out/some-test-videos.txt" --threads "$threads" > "$out/tags-sample.jsonl"
cut -c1-200 "$out/tags-sample.jsonl" | sed 's/$/ .../'

echo "== 4. evaluation of the test split (vtag eval) =="
"$vtag" eval --from "$out/run" --labels "$out/corpus/labels.jsonl" --split test --threads "$threads" \
  --title "vtag demo: $videos synthetic videos" --report "$out/report.html" | tee "$out/table.txt"
echo "-- att2in at hidden 256 (demo/run-a256) --"
"$vtag" eval --from "$wide" --labels "$out/corpus/labels.jsonl" --split test --threads "$threads" --keep-tag-order \
  --title "vtag demo: att2in at hidden 256" --report "$out/report-a256.html" | tee "$out/table-a256.txt"

echo
echo "demo finished in $(( $(date +%s) - start )) s; report: $(cd "$out" && pwd)/report.html"
