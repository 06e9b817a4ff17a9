#pragma once
// Elementwise ops: add, sub, hadamard (⊙), scale by a constant, and the broadcast add of a bias vector.
#include <type_traits>

#include "autodiff/tape.hpp"
#include "kernels/gemm.hpp"

namespace tapelab {

using kernels::Bias;

// a, b: r x c -> r x c
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> hadamard(const Var<T>& a, const Var<T>& b);
// c * a, c a constant (no gradient with respect to c)
template <class T>
Var<T> scale(const Var<T>& a, T c);
// a: r x c; per_row: bias is r x 1 (out[i, j] = a[i, j] + bias[i], the ResNet layout, h is d x batch);
//           per_col: bias is 1 x c (out[i, j] = a[i, j] + bias[j]).
template <class T>
Var<T> add_bias(const Var<T>& a, const Var<T>& bias, Bias mode = Bias::per_row);

template <class T>
Var<T> operator+(const Var<T>& a, const Var<T>& b) {
  return add(a, b);
}
template <class T>
Var<T> operator-(const Var<T>& a, const Var<T>& b) {
  return sub(a, b);
}
template <class T>
Var<T> operator*(std::type_identity_t<T> c, const Var<T>& a) {
  return scale(a, c);
}

}  // namespace tapelab
