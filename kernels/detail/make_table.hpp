#pragma once
// Included only by kernels/arch/<target>_<f32|f64>.cpp: instantiates every templated kernel but GEMM for one xsimd
// architecture and scalar type (GEMM: make_gemm.hpp).
// Everything in the detail implementation headers lives in an unnamed namespace (see scalar_math.hpp for why).
#include "kernels/detail/kernel_table.hpp"
#include "kernels/detail/simd_activation_from_output.hpp"
#include "kernels/detail/simd_activations.hpp"
#include "kernels/detail/simd_elementwise.hpp"
#include "kernels/detail/simd_random.hpp"
#include "kernels/detail/simd_reductions.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T, Target target>
KernelTable<T> make_table() {
  KernelTable<T> t{};
  t.target = target;
  t.gemm = arch_gemm<target, T>();
  t.fill = &simd_fill<Arch, T>;
  t.copy = &simd_copy<Arch, T>;
  t.axpy = &simd_axpy<Arch, T>;
  t.scale = &simd_scale<Arch, T>;
  t.add = &simd_add<Arch, T>;
  t.sub = &simd_sub<Arch, T>;
  t.hadamard = &simd_hadamard<Arch, T>;
  t.add_row_vector = &simd_add_row_vector<Arch, T>;
  t.add_col_vector = &simd_add_col_vector<Arch, T>;
  t.column_sums = &simd_column_sums<Arch, T>;
  t.row_sums = &simd_row_sums<Arch, T>;
  t.activation_forward = &simd_activation_forward<Arch, T>;
  t.activation_derivative = &simd_activation_derivative<Arch, T>;
  t.activation_forward_with_derivative = &simd_activation_forward_with_derivative<Arch, T>;
  t.activation_forward_backward = &simd_activation_forward_backward<Arch, T>;
  t.activation_backward = &simd_activation_backward<Arch, T>;
  t.activation_backward_from_output = &simd_activation_backward_from_output<Arch, T>;
  t.sum = &simd_sum<Arch, T>;
  t.dot = &simd_dot<Arch, T>;
  t.squared_norm = &simd_squared_norm<Arch, T>;
  t.max_abs = &simd_max_abs<Arch, T>;
  t.random_bits = &simd_random_bits<Arch>;
  t.random_uniform = &simd_random_uniform<Arch, T>;
  return t;
}

}  // namespace
}  // namespace tapelab::kernels::detail

// Defines arch_table<TARGET, T>() for one architecture translation unit.
#define TAPELAB_DEFINE_ARCH_TABLE(TARGET, ARCH, T)                         \
  namespace tapelab::kernels::detail {                                    \
  template <>                                                             \
  const KernelTable<T>& arch_table<TARGET, T>() {                         \
    static const KernelTable<T> table = make_table<ARCH, T, TARGET>();    \
    return table;                                                         \
  }                                                                       \
  }
