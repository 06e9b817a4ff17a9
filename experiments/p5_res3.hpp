#pragma once
// P5 res-3 networks at initialisation (papers.md 5.1, 5.4), as P5's code samples them for Fig. 1-3:
//
//   h_0 = A x,   h_{k+1} = h_k + α V_k σ(W_k h_k),  k = 0..L-1,   out = B h_L,   loss = (out - target)²
//   x ~ U[0,1]^{input_dim}, target ~ U[0,1]; A, W_k, V_k, B i.i.d. U[±sqrt(3 / fan_in)] (variance 1/fan_in)
//
// Streamed: a depth-1000 network of width 100 is 160 MB of weights, and X2 wants 10^4 of them. Layer k's
// weights are a pure function of (seed, network, k) through the counter-based nn::Rng (stream
// network * 2^24 + k + 1; the embeddings, input and target use stream network * 2^24), so the forward pass
// draws each layer, uses it and drops it, and the backward pass draws it again, bitwise the same: memory
// O(width^2 + L width) per network instead of O(L width^2), and no weight ever leaves the cache. The backward
// pass is reverse mode with recomputation (checkpointing every layer): each layer's vector-Jacobian product
// is one fused residual_step node on a small tape, the same op and backward the ResidualNetwork uses; the
// test checks the streamed ratios against a ResidualNetwork built from the same weights.
//
// Precision: the weights are always drawn in double; in float they are then rounded, so a float run evaluates
// the same networks as a double run (P5's code runs float32), and the two differ by rounding alone.
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/common.hpp"
#include "nn/init.hpp"

namespace tapelab::experiments {

struct Res3Config {
  index_t input_dim = 64, width = 40, hidden = 40, output_dim = 1;
  std::size_t depth = 10;
  kernels::Activation activation = kernels::Activation::relu;
  bool single_precision = false;  // evaluate in float (weights drawn in double, then rounded)
};

// What P5's scaling experiment records of one network (experiment_scaling_initialization.py).
struct Res3Measurement {
  double hidden_ratio = 0;         // ||h_L|| / ||h_0||
  double hidden_difference = 0;    // r_h = ||h_L - h_0|| / ||h_0||
  double gradient_ratio = 0;       // ||dl/dh_0|| / ||dl/dh_L||        (NaN without gradients)
  double gradient_difference = 0;  // r_g = ||dl/dh_L - dl/dh_0|| / ||dl/dh_L||
};

// Network `network` of the family `seed`, evaluated at every residual scale in `alphas` (the weights do not
// depend on α: one draw serves them all). Returns one measurement per α.
std::vector<Res3Measurement> measure_res3_at_init(const Res3Config& config, std::uint64_t seed,
                                                  std::uint64_t network, std::span<const double> alphas,
                                                  bool with_gradients);

// The streamed weights, for tests and for building the same network as an nn::ResidualNetwork.
struct Res3Embedding {
  nn::Matrix A, B, x, target;  // width x input_dim, output_dim x width, input_dim x 1, output_dim x 1
};
Res3Embedding draw_res3_embedding(const Res3Config& config, std::uint64_t seed, std::uint64_t network);
// Layer k: W (hidden x width) and V (width x hidden), overwritten in place (no allocation once sized).
void draw_res3_layer(const Res3Config& config, std::uint64_t seed, std::uint64_t network, std::size_t k,
                     nn::Matrix& W, nn::Matrix& V);

}  // namespace tapelab::experiments
