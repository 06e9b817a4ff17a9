// Portable fallback: SSE2, the x86-64 baseline, so it runs on every x86-64 CPU. Compiled with no extra flags.
// Everything but GEMM, in float (GEMM: generic_gemm_f32.cpp).
#include "kernels/detail/make_table.hpp"

TAPELAB_DEFINE_ARCH_TABLE(tapelab::kernels::Target::generic, xsimd::sse2, float)
