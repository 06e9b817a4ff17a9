#pragma once
// Packing for the BLIS-style GEMM: copies a block of op(A) or op(B) into the order the micro-kernel reads,
// zero-padding partial panels. This is where the transposes are absorbed: after packing, A*B, A^T*B, A*B^T and
// A^T*B^T all look the same to the micro-kernel.
//
//   packed A: panels of MR rows; panel r holds, for k = 0..kc-1, the MR values op(A)[r*MR + i, k] (i fastest).
//   packed B: panels of NR cols; panel p holds, for k = 0..kc-1, the NR values op(B)[k, p*NR + j] (j fastest).
#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] into MR-row panels (mc rounded up to a multiple of MR, zero padded).
template <class T, int MR>
void pack_a(Trans ta, const T* A, index_t lda, index_t i0, index_t mc, index_t p0, index_t kc, T* out) {
  for (index_t r = 0; r < mc; r += MR) {
    const index_t mr = mc - r < MR ? mc - r : MR;
    T* panel = out + r * kc;
    if (ta == Trans::N) {  // row i of op(A) is contiguous: read MR rows side by side, write the panel in order
      const T* src = A + (i0 + r) * lda + p0;
      if (mr == MR) {
        for (index_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
          for (index_t i = 0; i < MR; ++i) panel[k * MR + i] = src[i * lda + k];
      } else {
        for (index_t k = 0; k < kc; ++k)
          for (index_t i = 0; i < mr; ++i) panel[k * MR + i] = src[i * lda + k];
      }
    } else {  // column k of op(A) is contiguous: copy MR at a time
      for (index_t k = 0; k < kc; ++k) {
        const T* src = A + (p0 + k) * lda + i0 + r;
        for (index_t i = 0; i < mr; ++i) panel[k * MR + i] = src[i];
      }
    }
    if (mr < MR)
      for (index_t k = 0; k < kc; ++k)
        for (index_t i = mr; i < MR; ++i) panel[k * MR + i] = T(0);
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] into NR-column panels (nc rounded up to a multiple of NR, zero padded).
template <class T, int NR>
void pack_b_panel(Trans tb, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, index_t nr, T* panel) {
  if (tb == Trans::N) {  // row k of op(B) is contiguous
    for (index_t k = 0; k < kc; ++k) {
      const T* src = B + (p0 + k) * ldb + j0;
      T* dst = panel + k * NR;
      for (index_t j = 0; j < nr; ++j) dst[j] = src[j];
      for (index_t j = nr; j < NR; ++j) dst[j] = T(0);
    }
  } else {  // op(B)[k, j] = B[j, k]: row j of B is contiguous in k
    for (index_t j = 0; j < nr; ++j) {
      const T* src = B + (j0 + j) * ldb + p0;
      for (index_t k = 0; k < kc; ++k) panel[k * NR + j] = src[k];
    }
    if (nr < NR)
      for (index_t k = 0; k < kc; ++k)
        for (index_t j = nr; j < NR; ++j) panel[k * NR + j] = T(0);
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail
