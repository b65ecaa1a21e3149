#!/usr/bin/env bash
# The 500-video corpus of the issue: `vtag synth` renders it (timed), then
# synth_check_corpus checks the labels against the plans, the label
# statistics, and that every video decodes with vtag's video module.
# usage: corpus500.sh VTAG CHECKER   (run in the build's fixtures folder)
set -euo pipefail
vtag=$1
check=$2
out=synth500
rm -rf "$out"
start=$(date +%s%N)
"$vtag" synth --out "$out" --videos 500 --seed 7 --quiet
end=$(date +%s%N)
echo "vtag synth --videos 500: $(((end - start) / 1000000)) ms (load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
"$check" "$out" 7 500
rm -rf "$out"
