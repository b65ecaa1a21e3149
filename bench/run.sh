#!/usr/bin/env bash
# `make bench`: runs every bench/bench_*.sh in order with the build folder as
# argument. Each prints vtag's figure, the reference's (PyTorch or the FFmpeg
# CLI) measured in the same run, and their ratio.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%F)"
for b in "$here"/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b" .sh) =="
  bash "$b" "$build"
done
