#include "experiments/p5_res3.hpp"

#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "autodiff/autodiff.hpp"
#include "kernels/gemm.hpp"
#include "nn/random.hpp"

namespace tapelab::experiments {
namespace {

constexpr std::uint64_t kLayersPerNetwork = std::uint64_t(1) << 24;

std::uint64_t embedding_stream(std::uint64_t network) { return network * kLayersPerNetwork; }
std::uint64_t layer_stream(std::uint64_t network, std::size_t k) { return network * kLayersPerNetwork + k + 1; }

void fill_uniform(nn::Rng& rng, nn::Matrix& m, double bound) {
  rng.fill_uniform(std::span<double>(m.data(), std::size_t(m.size())), -bound, bound);
}

// Norms accumulate in double whatever the precision of the network.
template <class T>
double norm(TensorView<const T> v) {
  double s = 0;
  for (index_t i = 0; i < v.rows; ++i)
    for (index_t j = 0; j < v.cols; ++j) s += double(v(i, j)) * double(v(i, j));
  return std::sqrt(s);
}

template <class T>
double norm_of_difference(TensorView<const T> a, TensorView<const T> b) {
  double s = 0;
  for (index_t i = 0; i < a.rows; ++i)
    for (index_t j = 0; j < a.cols; ++j) {
      const double d = double(a(i, j)) - double(b(i, j));
      s += d * d;
    }
  return std::sqrt(s);
}

// The weights in the network's precision: a view of the double draw, or a rounded copy of it.
template <class T>
class InPrecision {
 public:
  TensorView<const T> operator()(const nn::Matrix& m) {
    if constexpr (std::is_same_v<T, double>) {
      return m;
    } else {
      if (copy_.rows() != m.rows() || copy_.cols() != m.cols()) copy_ = Tensor<T>(m.rows(), m.cols());
      for (index_t i = 0; i < m.rows(); ++i)
        for (index_t j = 0; j < m.cols(); ++j) copy_(i, j) = T(m(i, j));
      return copy_;
    }
  }

 private:
  Tensor<T> copy_;
};

template <class T>
std::vector<Res3Measurement> measure(const Res3Config& c, std::uint64_t seed, std::uint64_t network,
                                     std::span<const double> alphas, bool with_gradients);

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

namespace {

template <class T>
std::vector<Res3Measurement> measure(const Res3Config& c, std::uint64_t seed, std::uint64_t network,
                                     std::span<const double> alphas, bool with_gradients) {
  const std::size_t L = c.depth, n_alpha = alphas.size();
  const Res3Embedding e = draw_res3_embedding(c, seed, network);
  nn::Matrix W, V;
  InPrecision<T> as_W, as_V, as_A, as_x, as_B;

  // Forward, not recorded: h_k for every α stays in the tape's arena (L + 1 columns of `width` per α).
  Tape<T> forward_tape;
  std::vector<std::vector<Var<T>>> h(n_alpha);  // h[a][k]
  {
    NoGradGuard no_grad;
    const Var<T> h0 = matmul(forward_tape.constant(as_A(e.A)), forward_tape.constant(as_x(e.x)));
    for (auto& path : h) {
      path.reserve(L + 1);
      path.push_back(h0);
    }
    for (std::size_t k = 0; k < L; ++k) {
      draw_res3_layer(c, seed, network, k, W, V);
      const Var<T> w = forward_tape.constant(as_W(W)), v = forward_tape.constant(as_V(V));
      for (std::size_t a = 0; a < n_alpha; ++a)
        h[a].push_back(
            residual_step(h[a][k], ResidualStep<T>{.W = w, .V = v, .alpha = T(alphas[a]), .act = c.activation}));
    }
  }

  std::vector<Res3Measurement> out(n_alpha);
  for (std::size_t a = 0; a < n_alpha; ++a) {
    const double n0 = norm<T>(h[a][0].value());
    out[a].hidden_ratio = norm<T>(h[a][L].value()) / n0;
    out[a].hidden_difference = norm_of_difference<T>(h[a][L].value(), h[a][0].value()) / n0;
    out[a].gradient_ratio = out[a].gradient_difference = NAN;
  }
  if (!with_gradients) return out;

  // dl/dh_L = 2 (B h_L - target)^T B, then one recorded residual_step per layer, backwards, per α.
  std::vector<Tensor<T>> g(n_alpha, Tensor<T>(c.width, 1)), gL(n_alpha, Tensor<T>(c.width, 1));
  Tensor<T> residual(c.output_dim, 1);
  const TensorView<const T> B = as_B(e.B);
  for (std::size_t a = 0; a < n_alpha; ++a) {
    const TensorView<const T> hL = h[a][L].value();
    kernels::gemm(Trans::N, Trans::N, c.output_dim, 1, c.width, T(1), B.data, B.ld, hL.data, hL.ld, T(0),
                  residual.data(), 1);
    for (index_t i = 0; i < c.output_dim; ++i) residual(i, 0) = T(2) * (residual(i, 0) - T(e.target(i, 0)));
    kernels::gemm(Trans::T, Trans::N, c.width, 1, c.output_dim, T(1), B.data, B.ld, residual.data(), 1, T(0),
                  g[a].data(), 1);
    gL[a] = g[a];
  }
  Tape<T> layer_tape;
  for (std::size_t k = L; k-- > 0;) {
    draw_res3_layer(c, seed, network, k, W, V);
    const TensorView<const T> w = as_W(W), v = as_V(V);
    for (std::size_t a = 0; a < n_alpha; ++a) {
      layer_tape.clear();
      const Var<T> hk = layer_tape.variable(h[a][k].value());
      const Var<T> next = residual_step(hk, ResidualStep<T>{.W = layer_tape.constant(w),
                                                           .V = layer_tape.constant(v),
                                                           .alpha = T(alphas[a]),
                                                           .act = c.activation});
      layer_tape.backward(next, g[a]);
      const TensorView<const T> dh = hk.grad();
      for (index_t i = 0; i < c.width; ++i) g[a](i, 0) = dh(i, 0);
    }
  }
  for (std::size_t a = 0; a < n_alpha; ++a) {
    const double nL = norm<T>(gL[a]);
    out[a].gradient_ratio = norm<T>(g[a]) / nL;
    out[a].gradient_difference = norm_of_difference<T>(gL[a], g[a]) / nL;
  }
  return out;
}

}  // namespace

std::vector<Res3Measurement> measure_res3_at_init(const Res3Config& c, std::uint64_t seed, std::uint64_t network,
                                                  std::span<const double> alphas, bool with_gradients) {
  return c.single_precision ? measure<float>(c, seed, network, alphas, with_gradients)
                            : measure<double>(c, seed, network, alphas, with_gradients);
}

}  // namespace tapelab::experiments
