# Sourced by the bench scripts: the kernel paths to measure side by side in one run.
# bench_paths BUILD: the paths this CPU runs, widest first, generic left out (VTAG_BENCH_PATHS
# overrides, e.g. "avx2 generic"); bench_path_env PATH: the environment that puts vtag on it.
# On an AVX-512 CPU the avx2 path also gets OpenBLAS's Haswell kernels, as an AVX2-only CPU would
# (OpenBLAS picks its own kernels at load time: only OPENBLAS_CORETYPE changes them).
bench_paths() {
  if [ -n "${VTAG_BENCH_PATHS:-}" ]; then echo "$VTAG_BENCH_PATHS"; return; fi
  "$1/vtag" info | sed -n 's/.*this CPU runs: \(.*\))$/\1/p' | tr -d ',' | tr ' ' '\n' | grep -v '^generic$' | tac |
    tr '\n' ' '
}
bench_path_env() {
  local e="VTAG_CPU=$1"
  if [ "$1" != avx512 ] && grep -qw avx512f /proc/cpuinfo; then e="$e OPENBLAS_CORETYPE=Haswell"; fi
  echo "$e"
}
