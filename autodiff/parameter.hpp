#pragma once
// Parameter<T>: a leaf that owns its value and its gradient across tape clears. `tape.param(p)` puts it on a
// tape; backward accumulates (+=) into p.grad, so gradients of several backward passes add up until
// zero_grad(), as in PyTorch.
#include <utility>

#include "autodiff/tensor.hpp"
#include "kernels/elementwise.hpp"

namespace tapelab {

template <class T>
struct Parameter {
  Tensor<T> value;
  Tensor<T> grad;  // same shape as value, zero at construction
  bool requires_grad = true;

  Parameter() = default;
  explicit Parameter(Tensor<T> initial) : value(std::move(initial)), grad(value.rows(), value.cols()) {}

  index_t rows() const { return value.rows(); }
  index_t cols() const { return value.cols(); }
  void zero_grad() { kernels::fill(grad.rows(), grad.cols(), T(0), grad.data(), grad.ld()); }
};

}  // namespace tapelab
