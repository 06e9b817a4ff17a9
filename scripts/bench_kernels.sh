#!/usr/bin/env bash
# Runs the kernel benchmarks (tapelab beside OpenBLAS in one run) and prints the side-by-side ratio table.
#   scripts/bench_kernels.sh            every GEMM shape, 5 repetitions (about 10 minutes)
#   scripts/bench_kernels.sh --quick    a few shapes, 3 repetitions (about a minute)
# Extra arguments go to the benchmark binary (e.g. --benchmark_filter=...). Results: results/bench/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bench/bench_kernels
[ -x "$bin" ] || { echo "bench_kernels.sh: $bin not built; run: cmake -S . -B build && cmake --build build -j2" >&2; exit 1; }

args=(--benchmark_repetitions=5 --benchmark_min_time=0.2)
if [ "${1:-}" = "--quick" ]; then
  shift
  args=(--benchmark_repetitions=5 --benchmark_min_time=0.05 --benchmark_enable_random_interleaving=true
        "--benchmark_filter=BM_Gemm/.*/(128/128/128|1024/1024/1024|16/256/16|64/256/64|256/1024/256)$")
fi

# Debian's OpenBLAS 0.3.21 does not know recent CPUs and falls back to its Haswell (AVX2) kernels; on an AVX-512
# CPU ask for its SkylakeX kernels so tapelab is compared with OpenBLAS at its best.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q -w avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi

mkdir -p results/bench
out="results/bench/kernels-$(date +%Y%m%d-%H%M%S).json"
"$bin" "${args[@]}" "$@" --benchmark_out="$out.tmp" --benchmark_out_format=json >/dev/null
mv "$out.tmp" "$out"
python3 scripts/gemm_table.py "$out"
echo "raw results: $out"
