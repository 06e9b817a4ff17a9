#pragma once
// One table of function pointers per (dispatch target, scalar type). Each architecture's translation unit
// (kernels/arch/<target>_*.cpp, compiled with that architecture's flags) fills its table from the templated
// implementations in kernels/detail/; dispatch.cpp forwards every public kernel to the active table.
#include <cstdint>

#include "kernels/common.hpp"
#include "kernels/gemm.hpp"
#include "kernels/target.hpp"

namespace tapelab::kernels::detail {

template <class T>
using GemmFn = void (*)(Trans, Trans, index_t, index_t, index_t, T, const T*, index_t, const T*, index_t, T, T*,
                        index_t, const GemmEpilogue<T>*);

template <class T>
struct KernelTable {
  Target target;
  GemmFn<T> gemm;
  void (*fill)(index_t, index_t, T, T*, index_t);
  void (*copy)(index_t, index_t, const T*, index_t, T*, index_t);
  void (*axpy)(index_t, index_t, T, const T*, index_t, T*, index_t);
  void (*scale)(index_t, index_t, T, T*, index_t);
  void (*add)(index_t, index_t, const T*, index_t, const T*, index_t, T*, index_t);
  void (*sub)(index_t, index_t, const T*, index_t, const T*, index_t, T*, index_t);
  void (*hadamard)(index_t, index_t, const T*, index_t, const T*, index_t, T*, index_t);
  void (*add_row_vector)(index_t, index_t, const T*, T*, index_t);
  void (*add_col_vector)(index_t, index_t, const T*, T*, index_t);
  void (*column_sums)(index_t, index_t, const T*, index_t, T, T*);
  void (*row_sums)(index_t, index_t, const T*, index_t, T, T*);
  void (*activation_forward)(Activation, index_t, index_t, const T*, index_t, T*, index_t);
  void (*activation_derivative)(Activation, index_t, index_t, const T*, index_t, T*, index_t);
  void (*activation_forward_with_derivative)(Activation, index_t, index_t, const T*, index_t, T*, index_t, T*,
                                             index_t);
  void (*activation_forward_backward)(Activation, index_t, index_t, const T*, index_t, const T*, index_t, T*,
                                      index_t, T*, index_t);
  void (*activation_backward)(Activation, index_t, index_t, const T*, index_t, const T*, index_t, T, T*, index_t);
  void (*activation_backward_from_output)(Activation, index_t, index_t, const T*, index_t, const T*, index_t, T, T*,
                                          index_t);
  T (*sum)(index_t, index_t, const T*, index_t);
  T (*dot)(index_t, index_t, const T*, index_t, const T*, index_t);
  T (*squared_norm)(index_t, index_t, const T*, index_t);
  T (*max_abs)(index_t, index_t, const T*, index_t);
  // Philox streams (random.hpp). random_bits does not depend on T: both tables hold the same function and the
  // dispatcher uses the double one.
  void (*random_bits)(std::uint64_t, std::uint64_t, std::uint64_t, index_t, std::uint64_t*);
  void (*random_uniform)(std::uint64_t, std::uint64_t, std::uint64_t, index_t, T, T, T*);
};

// Defined (specialised) in kernels/arch/<target>_<f32|f64>.cpp.
template <Target target, class T>
const KernelTable<T>& arch_table();

// The GEMM driver of one target, defined in kernels/arch/<target>_gemm_<f32|f64>.cpp: GEMM is the heaviest
// template to instantiate, so it gets translation units of its own (a sanitizer build of one architecture in
// one file took over 20 minutes; four files build side by side).
template <Target target, class T>
GemmFn<T> arch_gemm();

}  // namespace tapelab::kernels::detail
