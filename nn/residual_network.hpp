#pragma once
// ResidualNetwork: one configurable network for every residual form of papers.md (hidden states d x B, one
// column per sample):
//
//   P1 (1.1)  h_{k+1} = h_k + δ_k σ(A_k h_k + b_k)          δ: none (1), shared trainable (|δ| used, init
//   1/L),
//                                                              per-layer trainable (δ_k ~ N(0, 1/L^2))
//   P2 (3)    h_{k+1} = h_k + L^{-1/2} σ(A_k h_k)
//   P4 (4.1)  h_0 = A x,  h_{k+1} = h_k + V_k σ(W_k h_k / sqrt(q)) / (L sqrt(m)),  output B h_L
//             p4_authors_scaling = true: h_{k+1} = h_k + V_k σ(W_k h_k) / L, the form of the authors' code
//             (papers.md 4.5 "Code deviation": no 1/sqrt(m), 1/sqrt(q) factors)
//   P5 (5.1)  res-1 h_{k+1} = h_k + α_L V_k σ(h_k);  res-3 h_{k+1} = h_k + α_L V_k σ(W_k h_k);  α_L = L^{-β}
//
// Parameter names: "layers.<k>.W" (A_k of P1/P2, W_k of P4/P5), "layers.<k>.V", "layers.<k>.b",
// "layers.<k>.delta" (P1 per-layer), "delta" (P1 shared), "input.A", "output.B" (embeddings).
// The fused autodiff residual_step is used where the form is h + α V σ(γ W h + b) with constants α, γ (P1
// δ=none, P2, P4, P5 res-3); the other forms are composed from matmul/activation/scale/add.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "nn/init.hpp"
#include "nn/module.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {

enum class ResidualForm { p1, p2, p4, p5_res1, p5_res3 };
enum class DeltaMode { none, shared, per_layer };

struct ResidualNetworkConfig {
  ResidualForm form = ResidualForm::p2;
  std::size_t depth = 8;   // L
  index_t input_dim = 4;   // d (x is input_dim x B)
  index_t width = 4;       // q: the hidden state's dimension (== input_dim without input embedding)
  index_t hidden = 4;      // m: inner width of V σ(W h) (P4, P5 res-3); ignored otherwise
  index_t output_dim = 4;  // d' (== width without output embedding)
  Activation activation = Activation::tanh;
  // Memory policy of the fused steps (ResidualStep::recompute): backward recomputes each layer's activations
  // instead of reading them back from the tape. The same numbers; one more GEMM and activation pass per
  // layer, 2 m B doubles less tape per layer (P4, m = 2 d: four fifths of its tape), less memory traffic.
  bool recompute = false;
  // With recompute, the last layers whose kept activations (residual_step_kept_values) fit in this many bytes
  // keep them after all. Backward meets them first, while they are still in the last-level cache, and reading
  // them from there is cheaper than recomputing them; the earlier layers' would come from memory, which is
  // slower than recomputing (measured on P4, X6's net, on a Zen 4: one GD iteration at L = 1024 (52 MB of
  // activations) 10% faster keeping them all than recomputing, at L = 16384 (840 MB) 17% slower). Sized to
  // the tape's share of the last-level cache (kernels::last_level_cache_bytes() over the tapes that run at
  // once); 0: every layer recomputes. The same numbers for any value.
  std::size_t keep_last_bytes = 0;
  DeltaMode delta = DeltaMode::none;  // P1 only
  bool p1_bias = true;                // P1: b_k present
  bool p1_depth_scaled_init = false;  // P1 "xavier-depth" (1.1): the init stds divided by L
  double beta = 0.5;                  // P5: α_L = L^{-β}
  bool p4_authors_scaling = false;    // P4: drop the 1/sqrt(m), 1/sqrt(q) factors (authors' code)
  bool input_embedding = false;       // h_0 = A x (A: width x input_dim)
  bool output_embedding = false;      // output B h_L (B: output_dim x width)
  bool embeddings_trainable = true;

  // Presets with the papers' defaults.
  static ResidualNetworkConfig p1(index_t d, std::size_t depth, Activation act, DeltaMode delta);
  static ResidualNetworkConfig p2(index_t d, std::size_t depth, Activation act = Activation::tanh);
  // P4 4.5 synthetic setup: q = d = d', embeddings frozen at the identity, GELU.
  static ResidualNetworkConfig p4(index_t d, index_t q, index_t m, index_t d_out, std::size_t depth,
                                  Activation act = Activation::gelu_tanh);
  static ResidualNetworkConfig p5_res1(index_t d_in, index_t width, index_t d_out, std::size_t depth,
                                       double beta);
  static ResidualNetworkConfig p5_res3(index_t d_in, index_t width, index_t d_out, std::size_t depth,
                                       double beta);
};

class ResidualNetwork : public Module {
 public:
  // Builds the parameters and draws the preset's default initialisation from rng:
  //  P1 "xavier" (1.1): A_k ~ N(0, (s/d)^2), b_k ~ N(0, (s/sqrt d)^2) with s = p1_initial_sd ("xavier-depth"
  //  with p1_depth_scaled_init: s/(L d), s/(L sqrt d)); δ_k (per layer) ~ N(0, 1/L^2), shared δ = 1/L;
  //  P2 (3): A_k ~ N(0, 1/d);  P4 (4.2): V_k = 0, W_k = W tied, W ~ N(0, 1), A, B identity embeddings;
  //  P5 (5.1): every weight U[±sqrt(3 / fan_in)]. Replace any of them with set_layer_weights().
  ResidualNetwork(const ResidualNetworkConfig& config, Rng& rng, double p1_initial_sd = 0.01);

  const ResidualNetworkConfig& config() const { return config_; }
  std::size_t depth() const { return config_.depth; }

  // The forward pass on tape: x is input_dim x B (must outlive the recording). With keep_hidden, h_0..h_L
  // are kept and retain their gradients (hidden_states(), hidden_gradients() after backward).
  // Two tapes may run forward at once (nn::DataParallelStep, one per part of a batch), without keep_hidden.
  Var<double> forward(Tape<double>& tape, TensorView<const double> x, bool keep_hidden = false);

  // After forward(keep_hidden = true), before tape.clear(): h_0..h_L, and after backward dl/dh_0..dl/dh_L.
  std::vector<Tensor<double>> hidden_states() const;
  std::vector<Tensor<double>> hidden_gradients() const;

  // The path k -> W_k for `which` in {"W", "V", "b", "delta"} (copies).
  WeightPath layer_weights(const std::string& which);
  void set_layer_weights(const std::string& which, const WeightPath& path);
  bool has_layer_weights(const std::string& which) const;

 private:
  Var<double> step(Tape<double>& tape, std::size_t k, const Var<double>& h);
  bool recompute_layer(std::size_t k, index_t m, bool has_v, index_t batch) const;
  Var<double> scalar_times(Tape<double>& tape, const Var<double>& scalar, const Var<double>& a);
  const Tensor<double>& ones_row(index_t cols);

  ResidualNetworkConfig config_;
  std::vector<Param*> W_, V_, b_, delta_;  // per layer (empty vectors where the form has none)
  Param* shared_delta_ = nullptr;
  Param* input_A_ = nullptr;
  Param* output_B_ = nullptr;
  std::vector<Var<double>> hidden_;
  // Constants for the δ broadcast (P1 trainable δ): a width x 1 column of ones, and a 1 x B row of ones per
  // batch width B seen (the parts of a data-parallel step may differ by a column; std::map keeps each in
  // place while a tape points at it). The mutex lets two tapes run forward at once.
  Tensor<double> ones_column_;
  std::map<index_t, Tensor<double>> ones_rows_;
  std::mutex mutex_;
};

}  // namespace tapelab::nn
