// AVX2 + FMA (xsimd::fma3<xsimd::avx2>) kernels. Compiled with -mavx2 -mfma.
// GEMM in float (the other kernels: avx2_f32.cpp).
#include "kernels/detail/make_gemm.hpp"

TAPELAB_DEFINE_ARCH_GEMM(tapelab::kernels::Target::avx2, xsimd::fma3<xsimd::avx2>, float)
