// Portable fallback: SSE2, the x86-64 baseline, so it runs on every x86-64 CPU. Compiled with no extra flags.
// GEMM in float (the other kernels: generic_f32.cpp).
#include "kernels/detail/make_gemm.hpp"

TAPELAB_DEFINE_ARCH_GEMM(tapelab::kernels::Target::generic, xsimd::sse2, float)
