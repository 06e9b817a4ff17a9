// AVX-512 (xsimd::avx512f) kernels. Compiled with -mavx512f; only ever called after the CPU was checked.
// GEMM in double (the other kernels: avx512_f64.cpp).
#include "kernels/detail/make_gemm.hpp"

TAPELAB_DEFINE_ARCH_GEMM(tapelab::kernels::Target::avx512, xsimd::avx512f, double)
