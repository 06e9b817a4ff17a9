#include "nn/residual_network.hpp"

#include <cmath>
#include <stdexcept>

namespace tapelab::nn {
namespace {

std::string layer_name(std::size_t k, const char* what) { return "layers." + std::to_string(k) + "." + what; }

}  // namespace

ResidualNetworkConfig ResidualNetworkConfig::p1(index_t d, std::size_t depth, Activation act,
                                                DeltaMode delta) {
  ResidualNetworkConfig c;
  c.form = ResidualForm::p1;
  c.depth = depth;
  c.input_dim = c.width = c.hidden = c.output_dim = d;
  c.activation = act;
  c.delta = delta;
  return c;
}
ResidualNetworkConfig ResidualNetworkConfig::p2(index_t d, std::size_t depth, Activation act) {
  ResidualNetworkConfig c;
  c.form = ResidualForm::p2;
  c.depth = depth;
  c.input_dim = c.width = c.hidden = c.output_dim = d;
  c.activation = act;
  return c;
}
ResidualNetworkConfig ResidualNetworkConfig::p4(index_t d, index_t q, index_t m, index_t d_out,
                                                std::size_t depth, Activation act) {
  ResidualNetworkConfig c;
  c.form = ResidualForm::p4;
  c.depth = depth;
  c.input_dim = d;
  c.width = q;
  c.hidden = m;
  c.output_dim = d_out;
  c.activation = act;
  c.input_embedding = c.output_embedding = true;
  c.embeddings_trainable = false;
  return c;
}
ResidualNetworkConfig ResidualNetworkConfig::p5_res1(index_t d_in, index_t width, index_t d_out,
                                                     std::size_t depth, double beta) {
  ResidualNetworkConfig c;
  c.form = ResidualForm::p5_res1;
  c.depth = depth;
  c.input_dim = d_in;
  c.width = c.hidden = width;
  c.output_dim = d_out;
  c.activation = Activation::relu;
  c.beta = beta;
  c.input_embedding = c.output_embedding = true;
  return c;
}
ResidualNetworkConfig ResidualNetworkConfig::p5_res3(index_t d_in, index_t width, index_t d_out,
                                                     std::size_t depth, double beta) {
  ResidualNetworkConfig c = p5_res1(d_in, width, d_out, depth, beta);
  c.form = ResidualForm::p5_res3;
  return c;
}

ResidualNetwork::ResidualNetwork(const ResidualNetworkConfig& config, Rng& rng, double p1_initial_sd)
    : config_(config) {
  const ResidualNetworkConfig& c = config_;
  if (c.depth == 0) throw std::invalid_argument("ResidualNetwork: depth must be >= 1");
  if (c.input_dim <= 0 || c.width <= 0 || c.hidden <= 0 || c.output_dim <= 0)
    throw std::invalid_argument("ResidualNetwork: input_dim, width, hidden and output_dim must be positive");
  if (!c.input_embedding && c.input_dim != c.width)
    throw std::invalid_argument("ResidualNetwork: without an input embedding input_dim (" +
                                std::to_string(c.input_dim) + ") must equal width (" +
                                std::to_string(c.width) + ")");
  if (!c.output_embedding && c.output_dim != c.width)
    throw std::invalid_argument("ResidualNetwork: without an output embedding output_dim (" +
                                std::to_string(c.output_dim) + ") must equal width (" +
                                std::to_string(c.width) + ")");
  const index_t q = c.width, m = c.hidden;
  const double L = double(c.depth);
  const bool p4 = c.form == ResidualForm::p4;

  if (c.input_embedding) {
    Matrix a = p4 ? input_embedding_identity(q, c.input_dim)
                  : uniform(rng, q, c.input_dim, fan_in_uniform_bound(c.input_dim));
    input_A_ = &add_parameter("input.A", std::move(a), c.embeddings_trainable);
  }
  const Matrix tied_w = p4 ? gaussian(rng, m, q, 1.0) : Matrix();  // P4 4.2: W_k = W, W ~ N(0, 1)
  for (std::size_t k = 0; k < c.depth; ++k) {
    switch (c.form) {
      case ResidualForm::p1: {  // P1 1.1 "xavier": A ~ N(0, (s/d)^2), b ~ N(0, (s/sqrt d)^2); "-depth": s/L
        const double sd = c.p1_depth_scaled_init ? p1_initial_sd / L : p1_initial_sd;
        W_.push_back(&add_parameter(layer_name(k, "W"), gaussian(rng, q, q, sd / double(q))));
        if (c.p1_bias)
          b_.push_back(&add_parameter(layer_name(k, "b"), gaussian(rng, q, 1, sd / std::sqrt(double(q)))));
        if (c.delta == DeltaMode::per_layer)
          delta_.push_back(&add_parameter(layer_name(k, "delta"), gaussian(rng, 1, 1, 1.0 / L)));
        break;
      }
      case ResidualForm::p2:  // P2 (papers.md 3 [SIM]): A_k(0) ~ N(0, 1/d)
        W_.push_back(&add_parameter(layer_name(k, "W"), gaussian(rng, q, q, fan_in_std(q))));
        break;
      case ResidualForm::p4:  // P4 4.2: V_k = 0, W_k = W
        W_.push_back(&add_parameter(layer_name(k, "W"), tied_w));
        V_.push_back(&add_parameter(layer_name(k, "V"), zeros(q, m)));
        break;
      case ResidualForm::p5_res1:  // P5 5.1: U[±sqrt(3/fan_in)]
        V_.push_back(&add_parameter(layer_name(k, "V"), uniform(rng, q, q, fan_in_uniform_bound(q))));
        break;
      case ResidualForm::p5_res3:
        W_.push_back(&add_parameter(layer_name(k, "W"), uniform(rng, m, q, fan_in_uniform_bound(q))));
        V_.push_back(&add_parameter(layer_name(k, "V"), uniform(rng, q, m, fan_in_uniform_bound(m))));
        break;
    }
  }
  if (c.form == ResidualForm::p1 && c.delta == DeltaMode::shared)
    shared_delta_ =
        &add_parameter("delta", Matrix::filled(1, 1, 1.0 / L));  // P1: shared δ initialised to 1/L
  if (c.output_embedding) {
    Matrix b = p4 ? output_embedding_identity(c.output_dim, q)
                  : uniform(rng, c.output_dim, q, fan_in_uniform_bound(q));
    output_B_ = &add_parameter("output.B", std::move(b), c.embeddings_trainable);
  }
  ones_column_ = Matrix::filled(c.width, 1, 1.0);
}

// δ * a for a 1x1 Var δ: δ broadcast to a's shape as ones_rows δ ones_cols (two tiny GEMMs), then ⊙.
Var<double> ResidualNetwork::scalar_times(Tape<double>& tape, const Var<double>& scalar,
                                          const Var<double>& a) {
  const Var<double> column = matmul(tape.constant(ones_column_), scalar);
  return hadamard(a, matmul(column, tape.constant(ones_row(a.cols()))));
}

const Tensor<double>& ResidualNetwork::ones_row(index_t cols) {
  const std::lock_guard<std::mutex> lock(mutex_);
  auto it = ones_rows_.find(cols);
  if (it == ones_rows_.end()) it = ones_rows_.emplace(cols, Matrix::filled(1, cols, 1.0)).first;
  return it->second;
}

// Whether layer k recomputes its activations in backward: with recompute on, unless they and those of every
// layer after it fit in keep_last_bytes.
bool ResidualNetwork::recompute_layer(std::size_t k, index_t m, bool has_v, index_t batch) const {
  const ResidualNetworkConfig& c = config_;
  if (!c.recompute) return false;
  const double layer_bytes =
      double(residual_step_kept_values(c.activation, has_v, m, batch)) * sizeof(double);
  return double(c.depth - k) * layer_bytes > double(c.keep_last_bytes);
}

Var<double> ResidualNetwork::step(Tape<double>& tape, std::size_t k, const Var<double>& h) {
  const ResidualNetworkConfig& c = config_;
  const double L = double(c.depth);
  switch (c.form) {
    case ResidualForm::p1: {
      const Var<double> b = c.p1_bias ? tape.param(*b_[k]) : Var<double>{};
      if (c.delta == DeltaMode::none)  // P1 eq. (1) with δ = 1
        return residual_step(h,
                             ResidualStep<double>{.W = tape.param(*W_[k]),
                                                  .b = b,
                                                  .act = c.activation,
                                                  .recompute = recompute_layer(k, c.width, false, h.cols())});
      Var<double> pre = matmul(tape.param(*W_[k]), h);
      if (c.p1_bias) pre = add_bias(pre, b);
      const Var<double> s = activation(pre, c.activation);
      Var<double> delta;
      if (c.delta == DeltaMode::shared) {  // P1 code: |δ| in the forward pass, |δ| = relu(δ) + relu(-δ)
        const Var<double> d = tape.param(*shared_delta_);
        delta = add(relu(d), relu(scale(d, -1.0)));
      } else {
        delta = tape.param(*delta_[k]);
      }
      return add(h, scalar_times(tape, delta, s));  // P1 eq. (1): h + δ_k σ(A_k h + b_k)
    }
    case ResidualForm::p2:  // P2: h + L^{-1/2} σ(A_k h)
      return residual_step(h,
                           ResidualStep<double>{.W = tape.param(*W_[k]),
                                                .alpha = 1.0 / std::sqrt(L),
                                                .act = c.activation,
                                                .recompute = recompute_layer(k, c.width, false, h.cols())});
    case ResidualForm::p4: {
      // P4 eq. (3): h_{k+1} = h_k + V σ(W h_k / sqrt(q)) / (L sqrt(m)); the authors' code: h + V σ(W h) / L
      const bool paper = !c.p4_authors_scaling;
      return residual_step(
          h, ResidualStep<double>{.W = tape.param(*W_[k]),
                                  .V = tape.param(*V_[k]),
                                  .alpha = paper ? 1.0 / (L * std::sqrt(double(c.hidden))) : 1.0 / L,
                                  .gamma = paper ? 1.0 / std::sqrt(double(c.width)) : 1.0,
                                  .act = c.activation,
                                  .recompute = recompute_layer(k, c.hidden, true, h.cols())});
    }
    case ResidualForm::p5_res1: {  // P5 res-1: h + α_L V σ(h)
      const Var<double> update = matmul(tape.param(*V_[k]), activation(h, c.activation));
      return add(h, scale(update, std::pow(L, -c.beta)));
    }
    case ResidualForm::p5_res3:  // P5 res-3: h + α_L V σ(W h)
      return residual_step(h,
                           ResidualStep<double>{.W = tape.param(*W_[k]),
                                                .V = tape.param(*V_[k]),
                                                .alpha = std::pow(L, -c.beta),
                                                .act = c.activation,
                                                .recompute = recompute_layer(k, c.hidden, true, h.cols())});
  }
  throw std::logic_error("ResidualNetwork::step: unknown form");
}

Var<double> ResidualNetwork::forward(Tape<double>& tape, TensorView<const double> x, bool keep_hidden) {
  const ResidualNetworkConfig& c = config_;
  if (x.rows != c.input_dim)
    throw std::invalid_argument("ResidualNetwork::forward: x is " + std::to_string(x.rows) + "x" +
                                std::to_string(x.cols) + " but the network expects " +
                                std::to_string(c.input_dim) + " rows (input_dim, one column per sample)");
  {
    const std::lock_guard<std::mutex> lock(mutex_);  // (two tapes may run forward at once)
    hidden_.clear();
  }
  // Without an input embedding h_0 = x; as a variable (when kept) so that dl/dh_0 is computed.
  Var<double> h = c.input_embedding ? matmul(tape.param(*input_A_), tape.constant(x))
                                    : (keep_hidden ? tape.variable(x) : tape.constant(x));
  // A frozen embedding gives an h_0 = A x that needs no gradient; to still get dl/dh_0, restart from it as a
  // variable (its value stays in the tape's arena until clear()).
  if (keep_hidden && c.input_embedding && !h.requires_grad()) h = tape.variable(h.value());
  if (keep_hidden) {
    if (c.input_embedding) h.retain_grad();
    hidden_.push_back(h);
  }
  for (std::size_t k = 0; k < c.depth; ++k) {
    tape.set_scope("layers", index_t(k));  // an anomaly report names the layer, as its parameters are named
    h = step(tape, k, h);
    if (keep_hidden) {
      h.retain_grad();
      hidden_.push_back(h);
    }
  }
  tape.clear_scope();
  return c.output_embedding ? matmul(tape.param(*output_B_), h) : h;
}

std::vector<Tensor<double>> ResidualNetwork::hidden_states() const {
  if (hidden_.empty())
    throw std::logic_error("ResidualNetwork::hidden_states: call forward(tape, x, keep_hidden = true) first");
  std::vector<Tensor<double>> out;
  for (const Var<double>& h : hidden_) out.emplace_back(h.value());
  return out;
}

std::vector<Tensor<double>> ResidualNetwork::hidden_gradients() const {
  if (hidden_.empty())
    throw std::logic_error(
        "ResidualNetwork::hidden_gradients: call forward(tape, x, keep_hidden = true) first");
  std::vector<Tensor<double>> out;
  for (const Var<double>& h : hidden_) out.emplace_back(h.grad());
  return out;
}

bool ResidualNetwork::has_layer_weights(const std::string& which) const {
  if (which == "W") return !W_.empty();
  if (which == "V") return !V_.empty();
  if (which == "b") return !b_.empty();
  if (which == "delta") return !delta_.empty();
  return false;
}

WeightPath ResidualNetwork::layer_weights(const std::string& which) {
  const std::vector<Param*>* list = which == "W"       ? &W_
                                    : which == "V"     ? &V_
                                    : which == "b"     ? &b_
                                    : which == "delta" ? &delta_
                                                       : nullptr;
  if (list == nullptr || list->empty())
    throw std::invalid_argument("ResidualNetwork::layer_weights: this network has no per-layer '" + which +
                                "'");
  WeightPath out;
  for (Param* p : *list) out.push_back(p->value);
  return out;
}

void ResidualNetwork::set_layer_weights(const std::string& which, const WeightPath& path) {
  std::vector<Param*>* list = which == "W"       ? &W_
                              : which == "V"     ? &V_
                              : which == "b"     ? &b_
                              : which == "delta" ? &delta_
                                                 : nullptr;
  if (list == nullptr || list->empty())
    throw std::invalid_argument("ResidualNetwork::set_layer_weights: this network has no per-layer '" +
                                which + "'");
  if (path.size() != list->size())
    throw std::invalid_argument("ResidualNetwork::set_layer_weights: got " + std::to_string(path.size()) +
                                " '" + which + "' matrices for depth " + std::to_string(list->size()));
  for (std::size_t k = 0; k < path.size(); ++k) {
    Param& p = *(*list)[k];
    if (path[k].rows() != p.rows() || path[k].cols() != p.cols())
      throw std::invalid_argument("ResidualNetwork::set_layer_weights: " + layer_name(k, which.c_str()) +
                                  " is " + std::to_string(p.rows()) + "x" + std::to_string(p.cols()) +
                                  ", got " + std::to_string(path[k].rows()) + "x" +
                                  std::to_string(path[k].cols()));
    p.value = path[k];
  }
}

}  // namespace tapelab::nn
