// AVX2 + FMA (xsimd::fma3<xsimd::avx2>) kernels. Compiled with -mavx2 -mfma.
// Everything but GEMM, in double (GEMM: avx2_gemm_f64.cpp).
#include "kernels/detail/make_table.hpp"

TAPELAB_DEFINE_ARCH_TABLE(tapelab::kernels::Target::avx2, xsimd::fma3<xsimd::avx2>, double)
