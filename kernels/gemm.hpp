#pragma once
// GEMM: C = act(alpha * op(A) * op(B) + beta * C + bias), row-major, float or double (beta may scale another
// matrix instead of C: GemmEpilogue::c_in).
//
//   op(A) is M x K, op(B) is K x N, C is M x N.
//   A is stored M x K (lda >= K) when ta == N, and K x M (lda >= M) when ta == T; likewise B.
//   beta == 0 never reads C (C may hold NaN or garbage), as in BLAS.
//   M == 0 or N == 0 is a no-op; K == 0 still scales C by beta (and applies the epilogue).
//
// Structure (BLIS): one MR x NR register-blocked micro-kernel per architecture; packing of A and B panels
// (packing absorbs the transposes, so all four forms share one micro-kernel); cache blocking KC / MC / NC.
// Small shapes (the ResNet regime, d <= 256) take a direct path that skips packing where the layout allows.
// OpenMP splits output tiles only, never K, so results are bitwise identical for any thread count.
#include "kernels/common.hpp"

namespace tapelab::kernels {

enum class Bias : unsigned char {
  none,
  per_row,  // bias has M entries: C[i, j] += bias[i]  (a column vector broadcast along rows; h is d x batch)
  per_col,  // bias has N entries: C[i, j] += bias[j]  (a row vector broadcast down columns)
};

// Optional fused epilogue, applied to the output while it is still in cache.
template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;
  Bias bias_mode = Bias::none;
  Activation activation = Activation::identity;
  // If set, receives Z = alpha*op(A)*op(B) + beta*C + bias before the activation (what backward needs).
  T* pre_activation = nullptr;
  index_t ld_pre_activation = 0;
  // If set, receives act'(Z), computed with act(Z) in one pass (activation_forward_with_derivative): what a
  // layer keeps for backward instead of Z when act' cannot be read off act(Z) (gelu, softplus).
  T* derivative = nullptr;
  index_t ld_derivative = 0;
  // If set, beta scales this M x N matrix instead of C: C = act(alpha op(A) op(B) + beta c_in + bias). Out-of-
  // place accumulation, so that y = h + alpha V a needs no copy of h into y first. It may be C itself; it must
  // not otherwise overlap C.
  const T* c_in = nullptr;
  index_t ld_c_in = 0;
};

template <class T>
void gemm(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
          index_t ldb, T beta, T* C, index_t ldc, const GemmEpilogue<T>* epilogue = nullptr);

}  // namespace tapelab::kernels
