#!/usr/bin/env bash
# `vtag serve` under load (issue 17, must-show 2 and 4), bounded (a few minutes on 2 cores):
#   1. a 24-video demo corpus (vtag synth) and a small pipeline run (fc, uniform:4 at 32 px),
#      made once and kept in $build/bench/serve;
#   2. baseline: `vtag tag --from RUN` over the videos, $VTAG_BENCH_TAG_PASSES times over
#      (default 4), in one process, models loaded once: videos/s of the whole process (tag
#      takes the videos one after another, its threads working within each; serve's two
#      workers tag two videos at once);
#   3. load: `vtag serve --workers 2 --queue 64`, 300 raw-body POSTs cycling over the videos
#      from 8 concurrent clients (bench/serve_load.py, http.client threads): failures (any
#      non-200, or a 200 whose line differs from vtag tag's), videos/s, p50/p95/p99 latency;
#   4. overload: --queue 4, 32 clients, 200 requests: every answer 200 or 503 with
#      Retry-After, no other code, no connection error, and /healthz answers after;
#   5. memory: 1,000 requests against one server in steps of 100, VmRSS after each: the
#      ratio of the last to the first must be at most 1.10.
# Exits 1 when 3 has a failure, 4 an unexpected answer or a dead server, or 5 a ratio over
# 1.10 (or a failed request). Counts: VTAG_BENCH_LOAD_N, _LOAD_C, _OVER_N, _OVER_C, _MEM_N,
# _MEM_FIRST (see serve_load.py), for quick runs while developing.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
vtag=$build/vtag
py=/usr/bin/python3
dir=$build/bench/serve
passes=${VTAG_BENCH_TAG_PASSES:-4}
export OMP_WAIT_POLICY=passive
mkdir -p "$dir"
cd "$dir"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$here" describe --always --dirty 2>/dev/null || echo "not a git checkout")

# 1. corpus and run folder (the pipeline skips its finished stages when rerun)
if [ ! -f corpus/labels.jsonl ]; then
  echo "making the corpus (vtag synth, 24 videos)..."
  "$vtag" synth --out corpus.tmp --videos 24 --seed 1 --quiet
  rm -rf corpus
  mv corpus.tmp corpus
fi
"$vtag" pipeline --labels corpus/labels.jsonl --out run --model fc --sample uniform:4 --size 32 --hidden 64 \
  --xe-epochs 15 --scst-epochs 1 --backbone-epochs 2 --batch 8 --threads 2 > pipeline.out 2>&1 ||
  { cat pipeline.out; exit 1; }
ls corpus/videos/*.mp4 > videos.txt
n_videos=$(wc -l < videos.txt)

# 2. baseline: vtag tag in one process
for ((p = 0; p < passes; p++)); do cat videos.txt; done > videos-tag.txt
s=$(date +%s%N)
"$vtag" tag --from run --list videos-tag.txt > tag.jsonl
e=$(date +%s%N)
tag_n=$(wc -l < tag.jsonl)
tag_s=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
tag_vps=$(awk -v n="$tag_n" -v t="$tag_s" 'BEGIN { printf "%.2f", n / t }')
head -n "$n_videos" tag.jsonl > expected.jsonl

# 3-5. the server
$py "$here/serve_load.py" "$vtag" run videos.txt expected.jsonl "$dir" > results.txt
declare -A r
while IFS='=' read -r k v; do r[$k]=$v; done < results.txt

fail=()
load_fail=$((r[load_non200] + r[load_wrong]))
[ "$load_fail" -eq 0 ] || fail+=("load: $load_fail failed requests (first: ${r[load_first_failure]})")
[ "${r[over_unexpected]}" -eq 0 ] || fail+=("overload: ${r[over_unexpected]} unexpected answers (first: ${r[over_first_unexpected]})")
[ "${r[over_alive]}" -eq 1 ] && [ "${r[over_healthz]}" = 200 ] ||
  fail+=("overload: the server is gone or /healthz did not answer 200 (${r[over_healthz]})")
[ "${r[mem_failures]}" -eq 0 ] || fail+=("memory: ${r[mem_failures]} failed requests (first: ${r[mem_first_failure]})")
awk -v x="${r[mem_ratio]}" 'BEGIN { exit !(x <= 1.10) }' || fail+=("memory: VmRSS ratio ${r[mem_ratio]} > 1.10")

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
cat <<EOF
vtag serve, $(date -u '+%F %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load $load_before before
  source: $commit, $("$vtag" info | sed -n 's/^kernel path: *\([a-z0-9]*\).*/kernel path \1/p')
  videos: $n_videos synth videos (128x224, ~5 s, H.264), run: fc, uniform:4 at 32 px, hidden 64
  vtag tag, one process ($passes passes, $tag_n videos one after another, $(nproc) threads each, models loaded once):
                     $tag_vps videos/s ($tag_s s)
  load: --workers 2 --queue 64, ${r[load_n]} requests, ${r[load_clients]} clients:
                     ${r[load_videos_per_s]} videos/s (${r[load_wall_s]} s), failures ${load_fail} (non-200 ${r[load_non200]}, wrong line ${r[load_wrong]})
                     latency p50 ${r[load_p50_ms]} ms, p95 ${r[load_p95_ms]} ms, p99 ${r[load_p99_ms]} ms, max ${r[load_max_ms]} ms
                     serve/tag throughput $(awk -v a="${r[load_videos_per_s]}" -v b="$tag_vps" 'BEGIN { printf "%.2f", a / b }'); SIGTERM exit ${r[load_exit]}
  overload: --workers 2 --queue 4, ${r[over_n]} requests, ${r[over_clients]} clients (${r[over_wall_s]} s):
                     200 ${r[over_200]}, 503 with Retry-After ${r[over_503]}, unexpected ${r[over_unexpected]} (503 without Retry-After ${r[over_503_no_retry_after]}, wrong 200 ${r[over_wrong_200]}, other codes ${r[over_other_code]}, connection errors ${r[over_conn_errors]})
                     alive after: ${r[over_alive]}, /healthz ${r[over_healthz]}; SIGTERM exit ${r[over_exit]}
  memory: --workers 2 --queue 64, ${r[mem_n]} requests (${r[mem_videos_per_s]} videos/s), failures ${r[mem_failures]}:
                     VmRSS at start $(mib "${r[mem_rss_start_kb]}"), after ${r[mem_first]} $(mib "${r[mem_rss_first_kb]}"), after ${r[mem_n]} $(mib "${r[mem_rss_all_kb]}"): ratio ${r[mem_ratio]} (VmHWM $(mib "${r[mem_hwm_kb]}")); SIGTERM exit ${r[mem_exit]}
                     VmRSS every ${r[mem_first]} requests (MiB): ${r[mem_rss_trace_mib]}
EOF
if [ ${#fail[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${fail[@]}"
  exit 1
fi
echo "  all checks passed"
