#pragma once
// Activations σ applied elementwise (formulas in kernels/activations.hpp): identity, tanh, relu, gelu (tanh
// form and erf form), softplus, sigmoid. Backward: da += G ⊙ σ'(a).
#include "autodiff/tape.hpp"
#include "kernels/common.hpp"

namespace tapelab {

using kernels::Activation;

// a: r x c -> σ(a): r x c
template <class T>
Var<T> activation(const Var<T>& a, Activation act);

template <class T>
Var<T> tanh(const Var<T>& a) {
  return activation(a, Activation::tanh);
}
template <class T>
Var<T> relu(const Var<T>& a) {
  return activation(a, Activation::relu);
}
template <class T>
Var<T> gelu_tanh(const Var<T>& a) {
  return activation(a, Activation::gelu_tanh);
}
template <class T>
Var<T> gelu_erf(const Var<T>& a) {
  return activation(a, Activation::gelu_erf);
}
template <class T>
Var<T> softplus(const Var<T>& a) {
  return activation(a, Activation::softplus);
}
template <class T>
Var<T> sigmoid(const Var<T>& a) {
  return activation(a, Activation::sigmoid);
}

}  // namespace tapelab
