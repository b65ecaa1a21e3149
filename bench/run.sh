#!/usr/bin/env bash
# `make bench`: runs every bench/bench_*.sh in order with the build folder as
# argument (VTAG_BENCH_ONLY="caption scst …" runs only those). Each prints vtag's
# figure, the reference's (PyTorch or the FFmpeg CLI) measured in the same run,
# and their ratio; the output is kept in BUILD/bench/bench.log and ends with
# bench/summary.py's table: every ratio a performance goal names, per kernel path.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/bench"
log=$build/bench/bench.log
{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%F)"
  echo "source: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown), vtag info: $("$build/vtag" info | grep -m1 'this CPU runs' || true)"
} | tee "$log"
for b in "$here"/bench_*.sh; do
  [ -e "$b" ] || continue
  name=$(basename "$b" .sh)
  if [ -n "${VTAG_BENCH_ONLY:-}" ] && ! printf ' %s ' "$VTAG_BENCH_ONLY" | grep -q " ${name#bench_} "; then continue; fi
  echo "== $name ==" | tee -a "$log"
  bash "$b" "$build" 2>&1 | tee -a "$log"
done
echo | tee -a "$log"
/usr/bin/python3 "$here/summary.py" "$log" | tee -a "$log"
