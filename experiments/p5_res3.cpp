#include "experiments/p5_res3.hpp"

#include <cmath>
#include <stdexcept>

#include "autodiff/autodiff.hpp"
#include "kernels/gemm.hpp"
#include "kernels/reductions.hpp"
#include "nn/random.hpp"

namespace tapelab::experiments {
namespace {

constexpr std::uint64_t kLayersPerNetwork = std::uint64_t(1) << 24;

std::uint64_t embedding_stream(std::uint64_t network) { return network * kLayersPerNetwork; }
std::uint64_t layer_stream(std::uint64_t network, std::size_t k) { return network * kLayersPerNetwork + k + 1; }

void fill_uniform(nn::Rng& rng, nn::Matrix& m, double bound) {
  rng.fill_uniform(std::span<double>(m.data(), std::size_t(m.size())), -bound, bound);
}

double norm(TensorView<const double> v) { return std::sqrt(kernels::squared_norm(v.rows, v.cols, v.data, v.ld)); }

double norm_of_difference(TensorView<const double> a, TensorView<const double> b) {
  double s = 0;
  for (index_t i = 0; i < a.rows; ++i)
    for (index_t j = 0; j < a.cols; ++j) s += (a(i, j) - b(i, j)) * (a(i, j) - b(i, j));
  return std::sqrt(s);
}

}  // namespace

Res3Embedding draw_res3_embedding(const Res3Config& c, std::uint64_t seed, std::uint64_t network) {
  if (c.depth >= kLayersPerNetwork - 1) throw std::invalid_argument("res-3: depth must be below 2^24");
  nn::Rng rng(seed, embedding_stream(network));
  Res3Embedding e{nn::Matrix(c.width, c.input_dim), nn::Matrix(c.output_dim, c.width), nn::Matrix(c.input_dim, 1),
                  nn::Matrix(c.output_dim, 1)};
  fill_uniform(rng, e.A, nn::fan_in_uniform_bound(c.input_dim));
  fill_uniform(rng, e.B, nn::fan_in_uniform_bound(c.width));
  rng.fill_uniform(std::span<double>(e.x.data(), std::size_t(e.x.size())), 0.0, 1.0);  // P5: torch.rand
  rng.fill_uniform(std::span<double>(e.target.data(), std::size_t(e.target.size())), 0.0, 1.0);
  return e;
}

void draw_res3_layer(const Res3Config& c, std::uint64_t seed, std::uint64_t network, std::size_t k, nn::Matrix& W,
                     nn::Matrix& V) {
  if (W.rows() != c.hidden || W.cols() != c.width) W = nn::Matrix(c.hidden, c.width);
  if (V.rows() != c.width || V.cols() != c.hidden) V = nn::Matrix(c.width, c.hidden);
  nn::Rng rng(seed, layer_stream(network, k));
  fill_uniform(rng, W, nn::fan_in_uniform_bound(c.width));
  fill_uniform(rng, V, nn::fan_in_uniform_bound(c.hidden));
}

std::vector<Res3Measurement> measure_res3_at_init(const Res3Config& c, std::uint64_t seed, std::uint64_t network,
                                                  std::span<const double> alphas, bool with_gradients) {
  const std::size_t L = c.depth, n_alpha = alphas.size();
  const Res3Embedding e = draw_res3_embedding(c, seed, network);
  nn::Matrix W, V;

  // Forward, not recorded: h_k for every α stays in the tape's arena (L + 1 columns of `width` per α).
  Tape<double> forward_tape;
  std::vector<std::vector<Var<double>>> h(n_alpha);  // h[a][k]
  {
    NoGradGuard no_grad;
    const Var<double> h0 = matmul(forward_tape.constant(e.A), forward_tape.constant(e.x));
    for (auto& path : h) {
      path.reserve(L + 1);
      path.push_back(h0);
    }
    for (std::size_t k = 0; k < L; ++k) {
      draw_res3_layer(c, seed, network, k, W, V);
      const Var<double> w = forward_tape.constant(W), v = forward_tape.constant(V);
      for (std::size_t a = 0; a < n_alpha; ++a)
        h[a].push_back(residual_step(h[a][k], ResidualStep<double>{.W = w, .V = v, .alpha = alphas[a], .act = c.activation}));
    }
  }

  std::vector<Res3Measurement> out(n_alpha);
  for (std::size_t a = 0; a < n_alpha; ++a) {
    const double n0 = norm(h[a][0].value());
    out[a].hidden_ratio = norm(h[a][L].value()) / n0;
    out[a].hidden_difference = norm_of_difference(h[a][L].value(), h[a][0].value()) / n0;
    out[a].gradient_ratio = out[a].gradient_difference = NAN;
  }
  if (!with_gradients) return out;

  // dl/dh_L = 2 (B h_L - target)^T B, then one recorded residual_step per layer, backwards, per α.
  std::vector<nn::Matrix> g(n_alpha, nn::Matrix(c.width, 1)), gL(n_alpha, nn::Matrix(c.width, 1));
  nn::Matrix residual(c.output_dim, 1);
  for (std::size_t a = 0; a < n_alpha; ++a) {
    const TensorView<const double> hL = h[a][L].value();
    kernels::gemm(Trans::N, Trans::N, c.output_dim, 1, c.width, 1.0, e.B.data(), e.B.ld(), hL.data, hL.ld, 0.0,
                  residual.data(), 1);
    for (index_t i = 0; i < c.output_dim; ++i) residual(i, 0) = 2.0 * (residual(i, 0) - e.target(i, 0));
    kernels::gemm(Trans::T, Trans::N, c.width, 1, c.output_dim, 1.0, e.B.data(), e.B.ld(), residual.data(), 1, 0.0,
                  g[a].data(), 1);
    gL[a] = g[a];
  }
  Tape<double> layer_tape;
  for (std::size_t k = L; k-- > 0;) {
    draw_res3_layer(c, seed, network, k, W, V);
    for (std::size_t a = 0; a < n_alpha; ++a) {
      layer_tape.clear();
      const Var<double> hk = layer_tape.variable(h[a][k].value());
      const Var<double> next = residual_step(
          hk, ResidualStep<double>{
                  .W = layer_tape.constant(W), .V = layer_tape.constant(V), .alpha = alphas[a], .act = c.activation});
      layer_tape.backward(next, g[a]);
      const TensorView<const double> dh = hk.grad();
      for (index_t i = 0; i < c.width; ++i) g[a](i, 0) = dh(i, 0);
    }
  }
  for (std::size_t a = 0; a < n_alpha; ++a) {
    const double nL = norm(gL[a]);
    out[a].gradient_ratio = norm(g[a]) / nL;
    out[a].gradient_difference = norm_of_difference(gL[a], g[a]) / nL;
  }
  return out;
}

}  // namespace tapelab::experiments
