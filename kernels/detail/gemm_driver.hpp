#pragma once
// PLACEHOLDER GEMM driver: plain loops, replaced by the BLIS-style driver.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/gemm.hpp"
#include "kernels/scalar_math.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
void gemm_driver(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
                 index_t ldb, T beta, T* C, index_t ldc, const GemmEpilogue<T>* ep) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      T acc = 0;
      for (index_t k = 0; k < K; ++k)
        acc += (ta == Trans::N ? A[i * lda + k] : A[k * lda + i]) * (tb == Trans::N ? B[k * ldb + j] : B[j * ldb + k]);
      T z = alpha * acc + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
      if (ep != nullptr) {
        if (ep->bias_mode == Bias::per_row) z += ep->bias[i];
        if (ep->bias_mode == Bias::per_col) z += ep->bias[j];
        if (ep->pre_activation != nullptr) ep->pre_activation[i * ep->ld_pre_activation + j] = z;
        z = scalar::activate(ep->activation, z);
      }
      C[i * ldc + j] = z;
    }
}

}  // namespace
}  // namespace tapelab::kernels::detail
