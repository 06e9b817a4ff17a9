#pragma once
// Activations σ, forward and derivative, elementwise over rows x cols matrices with leading dimensions.
//
//   identity  σ(x) = x                                σ'(x) = 1
//   tanh      σ(x) = tanh x                           σ'(x) = 1 - tanh² x
//   relu      σ(x) = max(x, 0)                        σ'(x) = 1 if x > 0 else 0   (0 at the kink, as PyTorch)
//   gelu_tanh σ(x) = x/2 (1 + tanh(c (x + 0.044715 x³))), c = sqrt(2/π)        (PyTorch approximate='tanh')
//   gelu_erf  σ(x) = x Φ(x) = x/2 (1 + erf(x/√2))     σ'(x) = Φ(x) + x φ(x)
//   softplus  σ(x) = log(1 + e^x)  (stable form)       σ'(x) = sigmoid(x)
//   sigmoid   σ(x) = 1 / (1 + e^-x)                    σ'(x) = σ(x)(1 - σ(x))
// Derivatives are the exact formulas (no fast-math shortcuts).
#include "kernels/common.hpp"

namespace tapelab::kernels {

// y = σ(x)
template <class T>
void activation_forward(Activation a, index_t rows, index_t cols, const T* x, index_t ldx, T* y, index_t ldy);

// d = σ'(x)
template <class T>
void activation_derivative(Activation a, index_t rows, index_t cols, const T* x, index_t ldx, T* d, index_t ldd);

// y = σ(x) and d = σ'(x) in one pass, the same bits as activation_forward and activation_derivative give, for
// about the cost of one of them where the two share work (gelu_erf, gelu_tanh, sigmoid, softplus: one
// exponential). y may be x itself (in place). What a layer keeps for backward instead of its pre-activation.
template <class T>
void activation_forward_with_derivative(Activation a, index_t rows, index_t cols, const T* x, index_t ldx, T* y,
                                        index_t ldy, T* d, index_t ldd);

// y = σ(x) and dx = dy ⊙ σ'(x) in one pass: a layer's backward that recomputes its activation from the
// pre-activation x (residual_step's recompute mode) gets both what dV needs and dZ, without writing σ'(x) out
// and reading it back. The same bits as activation_forward and activation_backward with beta = 0 give. y may
// be x, dx may be dy.
template <class T>
void activation_forward_backward(Activation a, index_t rows, index_t cols, const T* x, index_t ldx,
                                 const T* dy, index_t lddy, T* y, index_t ldy, T* dx, index_t lddx);

// dx = beta * dx + dy ⊙ σ'(x)   (beta is 0 to overwrite, 1 to accumulate; beta == 0 never reads dx)
template <class T>
void activation_backward(Activation a, index_t rows, index_t cols, const T* x, index_t ldx, const T* dy,
                         index_t lddy, T beta, T* dx, index_t lddx);

// Activations whose derivative is a function of the output y = σ(x): tanh (1 - y²), sigmoid (y (1 - y)),
// relu (1 if y > 0) and identity. A layer that keeps y for its own forward then needs neither x nor a second
// evaluation of σ in backward: one multiply per element instead of an exp.
constexpr bool derivative_from_output(Activation a) {
  return a == Activation::identity || a == Activation::tanh || a == Activation::relu || a == Activation::sigmoid;
}

// dx = beta * dx + dy ⊙ σ'(x), given y = σ(x). Only for activations with derivative_from_output(a) (asserted).
template <class T>
void activation_backward_from_output(Activation a, index_t rows, index_t cols, const T* y, index_t ldy, const T* dy,
                                     index_t lddy, T beta, T* dx, index_t lddx);

}  // namespace tapelab::kernels
