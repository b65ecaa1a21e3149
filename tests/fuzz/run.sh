#!/usr/bin/env bash
# Runs the libFuzzer targets of a VTAG_FUZZ build (make fuzz, make test), each for SECONDS on a
# copy of its seed corpus, and prints one line per target:
#   fuzz <target>: <N> execs in <S> s (<E> exec/s), cov <C>, ft <F>, corpus <K>, result ok|CRASH <artifact>
# Crash, leak, timeout and out-of-memory inputs land in WORK/artifacts; the exit status is 1 when
# any target found something or failed to run.
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (default: every target)
# env:   FUZZ_JOBS  targets run at once (default 2)
#        FUZZ_WORK  work folder (default BUILD_DIR/fuzz-run; emptied first)
#        FUZZ_ARGS  more libFuzzer options for every target (e.g. -seed=1 -jobs=4)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
all="labels_jsonl labels_csv checkpoint backbone onnx results video"
targets=${*:-$all}
jobs=${FUZZ_JOBS:-2}
work=${FUZZ_WORK:-$build/fuzz-run}

# Per target: the largest input (bytes) and the dictionary. The caps sit above the largest seed
# and well above what each format needs to reach its corner cases.
max_len() {
  case $1 in
    labels_*|results) echo 8192 ;;
    checkpoint|backbone) echo 32768 ;;
    onnx|video) echo 16384 ;;
  esac
}
# The largest single allocation (MB): the file targets read at most max_len bytes, and vtag checks
# every size a file claims before allocating (issue 14), so anything near this is a finding; FFmpeg
# decoding a picture of up to VTAG_VIDEO_MAX_PIXELS gets the whole RSS limit.
malloc_limit() {
  case $1 in
    video) echo 2048 ;;
    *) echo 512 ;;
  esac
}
dict() {
  case $1 in
    labels_jsonl|results) echo json ;;
    labels_csv) echo csv ;;
    checkpoint|backbone) echo safetensors ;;
    onnx|video) echo "$1" ;;
  esac
}

for t in $targets; do
  if [ -z "$(max_len "$t")" ]; then
    echo "run.sh: unknown target '$t' (targets: $all)" >&2
    exit 2
  fi
  if [ ! -x "$build/fuzz/fuzz_$t" ]; then
    echo "run.sh: $build/fuzz/fuzz_$t is missing (configure with -DCMAKE_C_COMPILER=clang -DVTAG_FUZZ=ON, build fuzz_targets)" >&2
    exit 2
  fi
done

rm -rf "$work"
mkdir -p "$work/artifacts"
# the targets' scratch files: in memory, one folder per run, removed however the run ends
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$shm/vtag-fuzz.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run_one() {
  local t=$1 dir=$work/$1
  mkdir -p "$dir/corpus"
  cp "$here/corpus/$t"/* "$dir/corpus/"
  local d="" start end
  [ -f "$here/dict/$(dict "$t").dict" ] && d="-dict=$here/dict/$(dict "$t").dict"
  start=$(date +%s.%N)
  # One thread per fuzzer: the library's GEMM (OpenBLAS) and loops (OpenMP) would otherwise take every core.
  set +e
  VTAG_FUZZ_TMP=$scratch OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$build/fuzz/fuzz_$t" "$dir/corpus" $d -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -malloc_limit_mb="$(malloc_limit "$t")" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t-" ${FUZZ_ARGS:-} \
    >"$dir/log" 2>&1
  echo $? >"$dir/status"
  set -e
  end=$(date +%s.%N)
  echo "$start $end" >"$dir/time"
}

# at most $jobs targets at once
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$t" &
  pids+=($!)
done
wait || true
pids=()

failed=0
for t in $targets; do
  dir=$work/$t
  log=$dir/log
  status=$(cat "$dir/status" 2>/dev/null || echo "?")
  read -r start end <"$dir/time" || { start=0; end=0; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # the last status line: "#N  DONE|pulse|NEW ... cov: C ft: F corp: K/..."
  last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1 || true)
  [ -n "$execs" ] || execs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
  cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  artifact=$(ls "$work/artifacts/$t-"* 2>/dev/null | head -1 || true)
  if [ -n "$artifact" ]; then
    result="CRASH $artifact"
  elif [ "$status" != 0 ]; then
    result="FAILED (exit $status, no artifact)"
  else
    result=ok
  fi
  awk -v t="$t" -v n="${execs:-0}" -v s0="$start" -v s1="$end" -v c="${cov:-?}" -v f="${ft:-?}" -v k="${corp:-?}" \
      -v r="$result" 'BEGIN { s = s1 - s0; e = s > 0 ? n / s : 0
        printf("fuzz %s: %d execs in %.0f s (%.0f exec/s), cov %s, ft %s, corpus %s, result %s\n", t, n, s, e, c, f, k, r) }'
  if [ "$result" != ok ]; then
    failed=1
    grep -m1 -E '^==[0-9]+==ERROR|runtime error:|^==[0-9]+== ERROR: libFuzzer|ERROR: libFuzzer' "$log" | sed 's/^/  /' || true
    echo "  log: $log"
  fi
done
exit $failed
