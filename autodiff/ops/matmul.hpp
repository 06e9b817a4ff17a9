#pragma once
// matmul: C = op(A) * op(B), op(X) = X or X^T (all four transpose forms), one GEMM forward and two backward.
#include "autodiff/tape.hpp"
#include "kernels/common.hpp"

namespace tapelab {

using kernels::Trans;

// a: op(a) is M x K, b: op(b) is K x N  ->  M x N.
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b, Trans ta = Trans::N, Trans tb = Trans::N);

}  // namespace tapelab
