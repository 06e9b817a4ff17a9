#pragma once
// The fused residual step, one node for a whole layer of a deep residual network:
//
//     out = h + alpha * V * act(gamma * W * h + b)  h: d x B (one column per sample)
//                                                   W: m x d, b: m x 1 (optional), V: d x m (optional:
//                                                   identity, then m == d), alpha and gamma constants
//                                                   (gamma: P4 eq. (3)'s 1/sqrt(q) inside the activation)
//
// Forward is a GEMM for Z (bias in its epilogue), one pass computing A = act(Z) and, when act' cannot be read
// off A, D = act'(Z) for backward, and a second GEMM that reads h and writes h + alpha V A to the output (no copy
// of h). Samples are independent, so a batch of 64 or more columns runs as two halves, on two threads when the
// kernels have them, with the same bits either way (autodiff/batch_parts.hpp). Backward is hand-written
// (G = dL/dout):
//     dA = alpha V^T G             (A = act(Z); without V: dA = alpha G)
//     dV += alpha G A^T
//     dZ = dA ⊙ act'(Z)                 (act'(Z) = D as kept, or read off A)
//     db += row sums of dZ
//     dW += gamma dZ h^T
//     dh += G + gamma W^T dZ             (G's buffer is handed on to dh when it is not retained: no copy)
// residual_step_reference() builds the same function from matmul, add_bias, activation, scale and add; the
// tests check the two against each other and both against finite differences.
#include "autodiff/tape.hpp"
#include "kernels/common.hpp"

namespace tapelab {

template <class T>
struct ResidualStep {
  Var<T> W;        // m x d
  Var<T> V = {};   // d x m, or empty for the identity (m == d)
  Var<T> b = {};   // m x 1, or empty for no bias
  T alpha = T(1);  // e.g. 1/L, L^{-1/2}
  T gamma = T(1);  // scale of W h inside the activation, e.g. P4's 1/sqrt(q)
  kernels::Activation act = kernels::Activation::tanh;
  // Memory policy. false: forward keeps act'(Z) and/or A = act(Z) on the tape for backward, up to 2 m x B per
  // layer. true: forward keeps nothing but its output; backward recomputes them with the same fused GEMM
  // (bitwise the same values), which costs one more GEMM per layer (forward flops + 1/3) but cuts the tape's
  // memory per layer from d + 2m to d columns of B, and its memory traffic with it: the choice for very deep
  // nets, and faster whenever the stored activations would not fit in cache.
  bool recompute = false;
};

template <class T>
Var<T> residual_step(const Var<T>& h, const ResidualStep<T>& step);

// How many values one residual_step keeps on the tape for backward when it does not recompute, m x B each:
// D = act'(Z) when act' needs Z, and A = act(Z) when act' is read off A or V needs A (for dV). For memory
// policies that weigh keeping against recomputing (nn::ResidualNetworkConfig::keep_last_bytes).
index_t residual_step_kept_values(kernels::Activation act, bool has_v, index_t m, index_t B);
template <class T>
Var<T> residual_step_reference(const Var<T>& h, const ResidualStep<T>& step);

}  // namespace tapelab
