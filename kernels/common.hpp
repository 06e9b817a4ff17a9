#pragma once
// Shared vocabulary of the dense kernels: index type, transpose flags, activation names.
//
// Every kernel in kernels/ is a plain function over raw pointers. Matrices are row-major: element (i, j) of a
// rows x cols matrix X with leading dimension ldx lives at X[i * ldx + j], and ldx >= cols. Nothing here
// allocates on the caller's behalf or knows about autodiff.
#include <cstddef>
#include <string_view>

namespace tapelab::kernels {

using index_t = std::ptrdiff_t;

// op(X) = X (N) or X^T (T), as in BLAS.
enum class Trans : unsigned char { N, T };

enum class Activation : unsigned char { identity, tanh, relu, gelu_tanh, gelu_erf, softplus, sigmoid };

inline constexpr Activation kAllActivations[] = {Activation::identity, Activation::tanh,     Activation::relu,
                                                 Activation::gelu_tanh, Activation::gelu_erf, Activation::softplus,
                                                 Activation::sigmoid};

constexpr std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::tanh: return "tanh";
    case Activation::relu: return "relu";
    case Activation::gelu_tanh: return "gelu_tanh";
    case Activation::gelu_erf: return "gelu_erf";
    case Activation::softplus: return "softplus";
    case Activation::sigmoid: return "sigmoid";
  }
  return "?";
}

// Parses the names above; returns false (and leaves `out` alone) on an unknown name.
bool parse_activation(std::string_view name, Activation& out);

}  // namespace tapelab::kernels
