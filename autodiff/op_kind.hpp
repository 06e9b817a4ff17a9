#pragma once
// The list of ops the tape knows. Each recorded node carries its OpKind and a small `variant` (which
// transpose form, which activation, which bias broadcast, which parts of the fused residual step are
// present), so messages can name the exact op ("matmul(T,N)", "residual_step(tanh, V, b)") and the gradient
// check can prove it covers every (kind, variant) pair: tests/autodiff/test_gradcheck.cpp fails when
// all_op_labels() holds a label that no entry of its table records.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common.hpp"
#include "kernels/gemm.hpp"

namespace tapelab {

enum class OpKind : std::uint8_t {
  matmul,  // variant: matmul_variant(ta, tb)
  add,
  sub,
  hadamard,
  scale,
  add_bias,    // variant: kernels::Bias (per_row or per_col)
  activation,  // variant: kernels::Activation
  sum,
  mean,
  squared_norm,
  mse,
  softmax_cross_entropy,
  residual_step,  // variant: residual_variant(activation, has_V, has_b)
  count_          // keep last
};

constexpr std::uint8_t matmul_variant(kernels::Trans ta, kernels::Trans tb) {
  return std::uint8_t((ta == kernels::Trans::T ? 2 : 0) | (tb == kernels::Trans::T ? 1 : 0));
}
constexpr std::uint8_t residual_variant(kernels::Activation act, bool has_v, bool has_b) {
  return std::uint8_t(std::uint8_t(act) | (has_v ? 0x10 : 0) | (has_b ? 0x20 : 0));
}
constexpr kernels::Activation residual_activation(std::uint8_t variant) {
  return kernels::Activation(variant & 0x0f);
}
constexpr bool residual_has_v(std::uint8_t variant) { return (variant & 0x10) != 0; }
constexpr bool residual_has_b(std::uint8_t variant) { return (variant & 0x20) != 0; }

// "matmul(N,T)", "activation(gelu_erf)", "add_bias(per_row)", "residual_step(tanh, V=I, no b)", "sum", ...
std::string op_label(OpKind kind, std::uint8_t variant);

// Every (kind, variant) label an op can record.
std::vector<std::string> all_op_labels();

}  // namespace tapelab
