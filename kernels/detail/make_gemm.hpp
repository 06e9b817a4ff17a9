#pragma once
// Included only by kernels/arch/<target>_gemm_<f32|f64>.cpp: instantiates the GEMM driver (and with it every
// micro-kernel, packing routine and small-shape path) for one xsimd architecture and scalar type.
#include "kernels/detail/gemm_driver.hpp"
#include "kernels/detail/kernel_table.hpp"

// Defines arch_gemm<TARGET, T>() for one architecture translation unit.
#define TAPELAB_DEFINE_ARCH_GEMM(TARGET, ARCH, T)                   \
  namespace tapelab::kernels::detail {                             \
  template <>                                                      \
  GemmFn<T> arch_gemm<TARGET, T>() {                               \
    return &gemm_driver<ARCH, T>;                                  \
  }                                                                \
  }
