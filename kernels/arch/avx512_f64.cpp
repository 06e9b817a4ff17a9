// AVX-512 (xsimd::avx512f) kernels. Compiled with -mavx512f; only ever called after the CPU was checked.
// Everything but GEMM, in double (GEMM: avx512_gemm_f64.cpp).
#include "kernels/detail/make_table.hpp"

TAPELAB_DEFINE_ARCH_TABLE(tapelab::kernels::Target::avx512, xsimd::avx512f, double)
