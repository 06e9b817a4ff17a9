// AVX2 + FMA (xsimd::fma3<xsimd::avx2>) kernels. Compiled with -mavx2 -mfma.
#include "kernels/detail/make_table.hpp"

TAPELAB_DEFINE_ARCH_TABLES(tapelab::kernels::Target::avx2, xsimd::fma3<xsimd::avx2>)
