#include "autodiff/op_kind.hpp"

namespace tapelab {

using kernels::Activation;
using kernels::Bias;
using kernels::Trans;

std::string op_label(OpKind kind, std::uint8_t variant) {
  switch (kind) {
    case OpKind::matmul:
      return std::string("matmul(") + ((variant & 2) ? "T" : "N") + "," + ((variant & 1) ? "T" : "N") + ")";
    case OpKind::add:
      return "add";
    case OpKind::sub:
      return "sub";
    case OpKind::hadamard:
      return "hadamard";
    case OpKind::scale:
      return "scale";
    case OpKind::add_bias:
      return Bias(variant) == Bias::per_row ? "add_bias(per_row)" : "add_bias(per_col)";
    case OpKind::activation:
      return "activation(" + std::string(kernels::activation_name(Activation(variant))) + ")";
    case OpKind::sum:
      return "sum";
    case OpKind::mean:
      return "mean";
    case OpKind::squared_norm:
      return "squared_norm";
    case OpKind::mse:
      return "mse";
    case OpKind::softmax_cross_entropy:
      return "softmax_cross_entropy";
    case OpKind::residual_step:
      return "residual_step(" + std::string(kernels::activation_name(residual_activation(variant))) +
             (residual_has_v(variant) ? ", V" : ", V=I") + (residual_has_b(variant) ? ", b)" : ", no b)");
    case OpKind::count_:
      break;
  }
  return "?";
}

std::vector<std::string> all_op_labels() {
  std::vector<std::string> out;
  for (int k = 0; k < int(OpKind::count_); ++k) {
    const auto kind = OpKind(k);
    switch (kind) {
      case OpKind::matmul:
        for (Trans ta : {Trans::N, Trans::T})
          for (Trans tb : {Trans::N, Trans::T}) out.push_back(op_label(kind, matmul_variant(ta, tb)));
        break;
      case OpKind::add_bias:
        out.push_back(op_label(kind, std::uint8_t(Bias::per_row)));
        out.push_back(op_label(kind, std::uint8_t(Bias::per_col)));
        break;
      case OpKind::activation:
        for (Activation a : kernels::kAllActivations) out.push_back(op_label(kind, std::uint8_t(a)));
        break;
      case OpKind::residual_step:
        for (Activation a : kernels::kAllActivations)
          for (bool has_v : {true, false})
            for (bool has_b : {true, false}) out.push_back(op_label(kind, residual_variant(a, has_v, has_b)));
        break;
      case OpKind::add:
      case OpKind::sub:
      case OpKind::hadamard:
      case OpKind::scale:
      case OpKind::sum:
      case OpKind::mean:
      case OpKind::squared_norm:
      case OpKind::mse:
      case OpKind::softmax_cross_entropy:
        out.push_back(op_label(kind, 0));
        break;
      case OpKind::count_:
        break;
    }
  }
  return out;
}

}  // namespace tapelab
