// The pieces experiments are built from: the streamed P5 res-3 network against an nn::ResidualNetwork with the
// same weights (forward and full-tape backward), RK4 against exact solutions, and the output helpers.
#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

#include "autodiff/autodiff.hpp"
#include "experiments/common.hpp"
#include "experiments/ode.hpp"
#include "experiments/p5_res3.hpp"
#include "experiments/run.hpp"
#include "nn/residual_network.hpp"

namespace tapelab::experiments {
namespace {

double norm_of_difference(const Tensor<double>& a, const Tensor<double>& b) {
  double s = 0;
  for (index_t i = 0; i < a.size(); ++i) s += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
  return std::sqrt(s);
}
double norm(const Tensor<double>& a) { return norm_of_difference(a, Tensor<double>(a.rows(), a.cols())); }

TEST(StreamedRes3, MatchesAResidualNetworkWithTheSameWeights) {
  const Res3Config c{.input_dim = 5, .width = 6, .hidden = 4, .output_dim = 1, .depth = 7};
  const std::vector<double> betas = {0.25, 0.5, 1.0};
  std::vector<double> alphas;
  for (double b : betas) alphas.push_back(std::pow(double(c.depth), -b));
  const auto streamed = measure_res3_at_init(c, /*seed=*/42, /*network=*/3, alphas, /*with_gradients=*/true);
  ASSERT_EQ(streamed.size(), betas.size());

  const Res3Embedding e = draw_res3_embedding(c, 42, 3);
  nn::WeightPath W, V;
  for (std::size_t k = 0; k < c.depth; ++k) {
    nn::Matrix w, v;
    draw_res3_layer(c, 42, 3, k, w, v);
    W.push_back(w);
    V.push_back(v);
  }
  for (std::size_t b = 0; b < betas.size(); ++b) {
    nn::ResidualNetworkConfig cfg = nn::ResidualNetworkConfig::p5_res3(c.input_dim, c.width, 1, c.depth, betas[b]);
    cfg.hidden = c.hidden;
    nn::Rng rng(0);
    nn::ResidualNetwork net(cfg, rng);
    net.parameter("input.A").value = e.A;
    net.parameter("output.B").value = e.B;
    net.set_layer_weights("W", W);
    net.set_layer_weights("V", V);
    Tape<double> tape;
    const Var<double> out = net.forward(tape, e.x, /*keep_hidden=*/true);
    tape.backward(squared_norm(sub(out, tape.constant(e.target))));
    const auto h = net.hidden_states(), g = net.hidden_gradients();
    const double r_h = norm_of_difference(h.back(), h.front()) / norm(h.front());
    const double r_g = norm_of_difference(g.back(), g.front()) / norm(g.back());
    EXPECT_NEAR(streamed[b].hidden_difference, r_h, 1e-13 * r_h) << "beta " << betas[b];
    EXPECT_NEAR(streamed[b].gradient_difference, r_g, 1e-13 * r_g) << "beta " << betas[b];
    EXPECT_NEAR(streamed[b].hidden_ratio, norm(h.back()) / norm(h.front()), 1e-13);
    EXPECT_NEAR(streamed[b].gradient_ratio, norm(g.front()) / norm(g.back()), 1e-13);
  }
}

// --precision float evaluates the same networks (weights drawn in double, then rounded): the ratios agree with
// double to float's rounding, accumulated over the depth, and are not bitwise the double ones.
TEST(StreamedRes3, FloatEvaluatesTheSameNetworksToRounding) {
  Res3Config c{.input_dim = 16, .width = 20, .hidden = 20, .output_dim = 1, .depth = 200};
  const std::vector<double> alphas = {std::pow(200.0, -1.0), std::pow(200.0, -0.5)};
  const auto in_double = measure_res3_at_init(c, /*seed=*/3, /*network=*/1, alphas, /*with_gradients=*/true);
  c.single_precision = true;
  const auto in_float = measure_res3_at_init(c, 3, 1, alphas, true);
  for (std::size_t b = 0; b < alphas.size(); ++b) {
    const Res3Measurement &d = in_double[b], &f = in_float[b];
    EXPECT_NEAR(f.hidden_ratio, d.hidden_ratio, 1e-4 * d.hidden_ratio);
    EXPECT_NEAR(f.gradient_ratio, d.gradient_ratio, 1e-4 * d.gradient_ratio);
    // r_h and r_g are differences of nearby vectors: relative to the vectors, not to themselves.
    EXPECT_NEAR(f.hidden_difference, d.hidden_difference, 1e-4 * d.hidden_ratio);
    EXPECT_NEAR(f.gradient_difference, d.gradient_difference, 1e-4 * d.gradient_ratio);
    EXPECT_NE(f.hidden_ratio, d.hidden_ratio) << "the float path computed in double";
  }
}

TEST(StreamedRes3, LayersAreAPureFunctionOfSeedNetworkAndIndex) {
  const Res3Config c{.input_dim = 3, .width = 5, .hidden = 5, .output_dim = 1, .depth = 100};
  nn::Matrix W1, V1, W2, V2, W3, V3;
  draw_res3_layer(c, 7, 1, 50, W1, V1);
  draw_res3_layer(c, 7, 1, 49, W3, V3);  // another layer in between
  draw_res3_layer(c, 7, 1, 50, W2, V2);
  EXPECT_EQ(norm_of_difference(W1, W2), 0.0);
  EXPECT_EQ(norm_of_difference(V1, V2), 0.0);
  EXPECT_GT(norm_of_difference(W1, W3), 0.0);
  const double bound = std::sqrt(3.0 / 5.0);  // U[±sqrt(3 / fan_in)]
  for (index_t i = 0; i < W1.size(); ++i) EXPECT_LE(std::abs(W1.data()[i]), bound);
}

TEST(Rk4, SolvesLinearOdesToRoundingLevel) {
  // dy/ds = A y with A = [[0, 1], [-1, 0]]: a rotation, y(s) = (cos s, -sin s) from (1, 0).
  nn::Matrix y(2, 1);
  y(0, 0) = 1;
  rk4(y, 0.0, 2.0, 2000, [](double, const nn::Matrix& Y, nn::Matrix& dY) {
    dY(0, 0) = Y(1, 0);
    dY(1, 0) = -Y(0, 0);
  });
  EXPECT_NEAR(y(0, 0), std::cos(2.0), 1e-13);
  EXPECT_NEAR(y(1, 0), -std::sin(2.0), 1e-13);
  // Backwards in time, with a time-dependent field: dy/ds = 2 s y, y(1) = e -> y(0) = 1.
  nn::Matrix z(1, 1);
  z(0, 0) = std::exp(1.0);
  int observed = 0;
  rk4(z, 1.0, 0.0, 1000, [](double s, const nn::Matrix& Y, nn::Matrix& dY) { dY(0, 0) = 2 * s * Y(0, 0); },
      [&](int, double, const nn::Matrix&) { ++observed; });
  EXPECT_NEAR(z(0, 0), 1.0, 1e-12);
  EXPECT_EQ(observed, 1001);
}

TEST(Rk4, ConvergesAtFourthOrder) {
  auto error = [](int steps) {
    nn::Matrix y(1, 1);
    y(0, 0) = 1;
    rk4(y, 0.0, 1.0, steps, [](double s, const nn::Matrix& Y, nn::Matrix& dY) { dY(0, 0) = std::cos(s) * Y(0, 0); });
    return std::abs(y(0, 0) - std::exp(std::sin(1.0)));
  };
  EXPECT_NEAR(std::log2(error(8) / error(16)), 4.0, 0.3);
}

TEST(Common, GridsAndStatistics) {
  EXPECT_EQ(linspace_int(10, 1000, 10), (std::vector<int>{10, 120, 230, 340, 450, 560, 670, 780, 890, 1000}));
  EXPECT_EQ(powers_of_two(2, 4), (std::vector<int>{4, 8, 16}));
  const std::vector<double> v = {3, 1, 2, 10};
  EXPECT_DOUBLE_EQ(median(v), 2.5);
  EXPECT_DOUBLE_EQ(mean(v), 4.0);
  EXPECT_DOUBLE_EQ(mean_of_squares(v), (9 + 1 + 4 + 100) / 4.0);
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 10.0);
  EXPECT_THROW(parse_activation_flag("swish"), std::invalid_argument);
  EXPECT_EQ(parse_activation_flag("gelu_erf"), kernels::Activation::gelu_erf);
}

TEST(CsvTable, PrintsRoundTripNumbersAndRejectsRaggedRows) {
  CsvTable t({"a", "b", "c"});
  t.add_row({0.1, 3LL, std::string("x")});
  EXPECT_EQ(t.str(), "a,b,c\n0.10000000000000001,3,x\n");
  EXPECT_THROW(t.add_row({1.0}), std::logic_error);
}

}  // namespace
}  // namespace tapelab::experiments
