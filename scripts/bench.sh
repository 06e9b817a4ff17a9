#!/usr/bin/env bash
# Runs one benchmark suite, tapelab beside its peer in one run, and prints the side-by-side ratio table.
#   scripts/bench.sh kernels [--quick]    GEMM vs OpenBLAS (full: every shape, 5 repetitions, ~10 minutes)
#   scripts/bench.sh autodiff [--quick]   tape overhead and training step vs libtorch (full: ~10 minutes)
# --quick runs a few rows with 5 short repetitions (about a minute). Further arguments go to the benchmark
# binary (e.g. --benchmark_filter=...). Raw results: results/bench/<suite>-<time>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-}
case "$suite" in
  kernels) quick_filter='BM_FmaPeak|BM_Gemm(Paired)?/.*(128/128/128|1024/1024/1024|16/256/16|64/256/64|256/1024/256)$' ;;
  autodiff) quick_filter='BM_GemmRate|BM_TapeOverhead|BM_TrainStep/(tapelab|libtorch)/f64/16/(16|128)$' ;;
  *) echo "usage: scripts/bench.sh kernels|autodiff [--quick] [benchmark flags]" >&2; exit 2 ;;
esac
shift
bin=build/bench/bench_$suite
[ -x "$bin" ] || { echo "bench.sh: $bin not built; run: cmake -S . -B build && cmake --build build -j2" >&2; exit 1; }

args=(--benchmark_repetitions=5 --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true)
if [ "${1:-}" = "--quick" ]; then
  shift
  args=(--benchmark_repetitions=5 --benchmark_min_time=0.05 --benchmark_enable_random_interleaving=true
        "--benchmark_filter=$quick_filter")
fi

# Debian's OpenBLAS 0.3.21 does not know recent CPUs and falls back to its Haswell (AVX2) kernels; on an AVX-512
# CPU ask for its SkylakeX kernels so that tapelab (and libtorch, which calls OpenBLAS) is compared with OpenBLAS
# at its best. This overrides an inherited OPENBLAS_CORETYPE (some machines here export Haswell for everything);
# TAPELAB_OPENBLAS_CORETYPE=<name> chooses another.
if [ -n "${TAPELAB_OPENBLAS_CORETYPE:-}" ]; then
  export OPENBLAS_CORETYPE=$TAPELAB_OPENBLAS_CORETYPE
elif grep -q -w avx512f /proc/cpuinfo 2>/dev/null; then
  if [ -n "${OPENBLAS_CORETYPE:-}" ] && [ "$OPENBLAS_CORETYPE" != SkylakeX ]; then
    echo "bench.sh: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE in the environment; using SkylakeX (AVX-512) instead" \
      "(set TAPELAB_OPENBLAS_CORETYPE to choose)" >&2
  fi
  export OPENBLAS_CORETYPE=SkylakeX
fi

mkdir -p results/bench
out="results/bench/$suite-$(date +%Y%m%d-%H%M%S).json"
"$bin" "${args[@]}" "$@" --benchmark_out="$out.tmp" --benchmark_out_format=json >/dev/null
mv "$out.tmp" "$out"  # atomic: an interrupted run leaves no half-written result
python3 scripts/bench_table.py "$out"
echo "raw results: $out"
