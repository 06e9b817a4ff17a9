// AVX-512 (xsimd::avx512f) kernels. Compiled with -mavx512f; only ever called after the CPU was checked.
#include "kernels/detail/make_table.hpp"

TAPELAB_DEFINE_ARCH_TABLES(tapelab::kernels::Target::avx512, xsimd::avx512f)
