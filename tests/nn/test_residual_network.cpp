// ResidualNetwork: each preset's forward against a hand-written loop of its paper's equation, parameter
// gradients against central finite differences, hidden states and dl/dh_k, Module conventions, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "nn/residual_network.hpp"

namespace tapelab::nn {
namespace {

using testing::HasSubstr;
using Vec = std::vector<double>;

Vec matvec(const Matrix& a, const Vec& x) {
  Vec y(std::size_t(a.rows()), 0.0);
  for (index_t i = 0; i < a.rows(); ++i)
    for (index_t j = 0; j < a.cols(); ++j) y[std::size_t(i)] += a(i, j) * x[std::size_t(j)];
  return y;
}
Vec column(const Matrix& x, index_t j) {
  Vec c(std::size_t(x.rows()));
  for (index_t i = 0; i < x.rows(); ++i) c[std::size_t(i)] = x(i, j);
  return c;
}

// The papers' equations, one sample at a time, tanh activation.
Vec reference_forward(ResidualNetwork& net, const Vec& x) {
  const ResidualNetworkConfig& c = net.config();
  const double L = double(c.depth);
  Vec h = c.input_embedding ? matvec(net.parameter("input.A").value, x) : x;
  for (std::size_t k = 0; k < c.depth; ++k) {
    const std::string p = "layers." + std::to_string(k) + ".";
    Vec update;
    switch (c.form) {
      case ResidualForm::p1: {
        Vec pre = matvec(net.parameter(p + "W").value, h);
        double delta = 1.0;
        if (c.delta == DeltaMode::shared) delta = std::abs(net.parameter("delta").value(0, 0));
        if (c.delta == DeltaMode::per_layer) delta = net.parameter(p + "delta").value(0, 0);
        for (std::size_t i = 0; i < pre.size(); ++i)
          update.push_back(delta * std::tanh(pre[i] + net.parameter(p + "b").value(index_t(i), 0)));
        break;
      }
      case ResidualForm::p2:
        for (double v : matvec(net.parameter(p + "W").value, h))
          update.push_back(std::tanh(v) / std::sqrt(L));
        break;
      case ResidualForm::p4: {
        const double inner = c.p4_authors_scaling ? 1.0 : 1.0 / std::sqrt(double(c.width));
        const double outer = c.p4_authors_scaling ? 1.0 / L : 1.0 / (L * std::sqrt(double(c.hidden)));
        Vec a;
        for (double v : matvec(net.parameter(p + "W").value, h)) a.push_back(std::tanh(inner * v));
        for (double v : matvec(net.parameter(p + "V").value, a)) update.push_back(outer * v);
        break;
      }
      case ResidualForm::p5_res1:
      case ResidualForm::p5_res3: {
        Vec a;
        const Vec pre = c.form == ResidualForm::p5_res1 ? h : matvec(net.parameter(p + "W").value, h);
        for (double v : pre) a.push_back(std::tanh(v));
        for (double v : matvec(net.parameter(p + "V").value, a)) update.push_back(std::pow(L, -c.beta) * v);
        break;
      }
    }
    for (std::size_t i = 0; i < h.size(); ++i) h[i] += update[i];
  }
  return c.output_embedding ? matvec(net.parameter("output.B").value, h) : h;
}

std::vector<ResidualNetworkConfig> all_presets() {
  std::vector<ResidualNetworkConfig> cs{
      ResidualNetworkConfig::p1(3, 5, Activation::tanh, DeltaMode::none),
      ResidualNetworkConfig::p1(3, 5, Activation::tanh, DeltaMode::shared),
      ResidualNetworkConfig::p1(3, 5, Activation::tanh, DeltaMode::per_layer),
      ResidualNetworkConfig::p2(3, 6, Activation::tanh),
      ResidualNetworkConfig::p4(3, 4, 5, 2, 4, Activation::tanh),
      ResidualNetworkConfig::p4(3, 4, 5, 2, 4, Activation::tanh),
      ResidualNetworkConfig::p5_res1(3, 4, 2, 5, 0.5),
      ResidualNetworkConfig::p5_res3(3, 4, 2, 5, 0.25),
  };
  cs[5].p4_authors_scaling = true;
  cs[6].activation = cs[7].activation = Activation::tanh;
  cs[7].hidden = 6;
  return cs;
}

void randomise(ResidualNetwork& net, Rng& rng) {
  for (Param* p : net.parameters())
    for (index_t i = 0; i < p->value.size(); ++i) p->value.data()[i] = rng.normal(0.0, 0.5);
}

TEST(ResidualNetwork, ForwardMatchesThePapersEquationForEveryPreset) {
  Rng rng(1);
  int index = 0;
  for (const ResidualNetworkConfig& c : all_presets()) {
    ResidualNetwork net(c, rng);
    randomise(net, rng);  // P4's V = 0 init would hide the residual branch
    const Matrix x = gaussian(rng, c.input_dim, 3, 1.0);
    Tape<double> tape;
    const Var<double> out = net.forward(tape, x);
    ASSERT_EQ(out.rows(), c.output_dim);
    for (index_t j = 0; j < 3; ++j) {
      const Vec expected = reference_forward(net, column(x, j));
      for (index_t i = 0; i < c.output_dim; ++i)
        EXPECT_NEAR(out.value()(i, j), expected[std::size_t(i)], 1e-12)
            << "preset " << index << " (" << i << ", " << j << ")";
    }
    ++index;
  }
}

TEST(ResidualNetwork, ParameterGradientsMatchFiniteDifferences) {
  Rng rng(2);
  int index = 0;
  for (ResidualNetworkConfig c : all_presets()) {
    c.embeddings_trainable = true;
    ResidualNetwork net(c, rng);
    randomise(net, rng);
    const Matrix x = gaussian(rng, c.input_dim, 2, 1.0), y = gaussian(rng, c.output_dim, 2, 1.0);
    auto loss_value = [&] {
      Tape<double> t;
      return mse(net.forward(t, x), t.constant(y)).item();
    };
    net.zero_grad();
    Tape<double> tape;
    tape.backward(mse(net.forward(tape, x), tape.constant(y)));
    for (const NamedParameter& np : net.named_parameters()) {
      for (index_t i = 0; i < np.parameter->value.size(); ++i) {
        double& w = np.parameter->value.data()[i];
        const double saved = w, h = 1e-6;
        w = saved + h;
        const double up = loss_value();
        w = saved - h;
        const double down = loss_value();
        w = saved;
        const double expected = (up - down) / (2 * h);
        EXPECT_NEAR(np.parameter->grad.data()[i], expected, 1e-7 + 1e-5 * std::abs(expected))
            << "preset " << index << " " << np.name << "[" << i << "]";
      }
    }
    ++index;
  }
}

TEST(ResidualNetwork, RecomputeGivesTheSameBits) {
  // The memory policy changes what the tape keeps, not the numbers: loss and every gradient bit for bit, for
  // every preset, with the activations whose derivative needs the input (gelu) or the output (tanh). Three
  // policies: keep every layer's activations, recompute every layer's, and recompute all but the last two
  // layers' (keep_last_bytes: two layers' worth), which must keep exactly those two.
  enum Policy { keep, recompute, keep_last_two };
  const index_t batch = 5;
  int index = 0;
  for (ResidualNetworkConfig c : all_presets())
    for (Activation act : {Activation::tanh, Activation::gelu_erf}) {
      c.activation = act;
      c.embeddings_trainable = true;
      const bool has_v = c.form == ResidualForm::p4 || c.form == ResidualForm::p5_res3;
      const std::size_t layer_bytes =
          std::size_t(residual_step_kept_values(act, has_v, has_v ? c.hidden : c.width, batch)) *
          sizeof(double);
      std::vector<double> results[3];
      for (Policy policy : {keep, recompute, keep_last_two}) {
        c.recompute = policy != keep;
        c.keep_last_bytes = policy == keep_last_two ? 2 * layer_bytes : 0;
        Rng rng(9);
        ResidualNetwork net(c, rng);
        randomise(net, rng);
        const Matrix x = gaussian(rng, c.input_dim, batch, 1.0), y = gaussian(rng, c.output_dim, batch, 1.0);
        Tape<double> tape;
        const Var<double> loss = mse(net.forward(tape, x), tape.constant(y));
        // The fused layers (not every preset has them) and those that kept their activations for backward.
        std::size_t fused = 0, kept = 0;
        for (const Node<double>& n : tape.nodes())
          if (n.kind == OpKind::residual_step) {
            ++fused;
            if (n.saved[0] != nullptr || n.saved[1] != nullptr) ++kept;
          }
        const std::size_t expected = policy == keep        ? fused
                                     : policy == recompute ? 0
                                                           : std::min<std::size_t>(2, fused);
        EXPECT_EQ(kept, expected) << "preset " << index << ", " << kernels::activation_name(act)
                                  << ", policy " << int(policy);
        tape.backward(loss);
        std::vector<double>& r = results[policy];
        r.push_back(loss.item());
        for (Param* p : net.parameters()) r.insert(r.end(), p->grad.data(), p->grad.data() + p->grad.size());
      }
      for (Policy policy : {recompute, keep_last_two}) {
        ASSERT_EQ(results[keep].size(), results[policy].size());
        EXPECT_EQ(
            std::memcmp(results[keep].data(), results[policy].data(), results[keep].size() * sizeof(double)),
            0)
            << "preset " << index << ", " << kernels::activation_name(act) << ", policy " << int(policy);
      }
      ++index;
    }
}

TEST(ResidualNetwork, HiddenStatesAndTheirGradientsAreRetrievable) {
  Rng rng(3);
  ResidualNetwork net(ResidualNetworkConfig::p2(3, 4), rng);
  const Matrix x = gaussian(rng, 3, 2, 1.0);
  Tape<double> tape;
  const Var<double> out = net.forward(tape, x, /*keep_hidden=*/true);
  tape.backward(sum(out));
  const auto hs = net.hidden_states();
  const auto gs = net.hidden_gradients();
  ASSERT_EQ(hs.size(), 5u);
  ASSERT_EQ(gs.size(), 5u);
  for (index_t i = 0; i < 6; ++i) {
    EXPECT_EQ(hs[0].data()[i], x.data()[i]);          // h_0 = x
    EXPECT_EQ(hs[4].data()[i], out.value().data[i]);  // h_L = output
    EXPECT_DOUBLE_EQ(gs[4].data()[i], 1.0);           // d sum / dh_L = 1
  }
  // Backward dynamics: dl/dh_k = (I + L^{-1/2} diag(σ'(A h_k)) A)^T dl/dh_{k+1}, checked at k = 0.
  const Matrix& A = net.parameter("layers.0.W").value;
  for (index_t j = 0; j < 2; ++j) {
    const Vec pre = matvec(A, column(hs[0], j));
    for (index_t i = 0; i < 3; ++i) {
      double g = gs[1](i, j);
      for (index_t r = 0; r < 3; ++r) {
        const double t = std::tanh(pre[std::size_t(r)]);
        g += gs[1](r, j) * (1 - t * t) * A(r, i) / 2.0;  // L^{-1/2} = 1/2
      }
      EXPECT_NEAR(gs[0](i, j), g, 1e-13);
    }
  }
}

TEST(ResidualNetwork, HiddenGradientsExistBehindAFrozenEmbedding) {
  Rng rng(6);
  ResidualNetwork net(ResidualNetworkConfig::p4(2, 3, 4, 2, 3, Activation::tanh), rng);  // A, B frozen
  for (const NamedParameter& p : net.named_parameters())
    if (p.name.rfind("layers.", 0) == 0)
      for (index_t i = 0; i < p.parameter->value.size(); ++i)
        p.parameter->value.data()[i] = rng.normal(0.0, 0.5);
  const Matrix x = gaussian(rng, 2, 2, 1.0);
  Tape<double> tape;
  tape.backward(sum(net.forward(tape, x, true)));
  const auto gs = net.hidden_gradients();
  ASSERT_EQ(gs.size(), 4u);
  EXPECT_EQ(gs[0].rows(), 3);
  double norm = 0;
  for (index_t i = 0; i < gs[0].size(); ++i) norm += std::abs(gs[0].data()[i]);
  EXPECT_GT(norm, 0.0);
}

double entry_std(const WeightPath& path) {
  double ss = 0;
  double n = 0;
  for (const Matrix& m : path)
    for (index_t i = 0; i < m.size(); ++i) ss += m.data()[i] * m.data()[i], n += 1;
  return std::sqrt(ss / n);
}

TEST(ResidualNetwork, PresetInitialisationsHaveThePapersScales) {
  Rng rng(7);
  ResidualNetworkConfig p1 = ResidualNetworkConfig::p1(40, 10, Activation::tanh, DeltaMode::shared);
  p1.p1_depth_scaled_init = true;
  ResidualNetwork n1(p1, rng, 0.01);
  EXPECT_NEAR(entry_std(n1.layer_weights("W")), 0.01 / (10 * 40), 0.05 * 0.01 / (10 * 40));  // 16000 entries
  EXPECT_DOUBLE_EQ(n1.parameter("delta").value(0, 0), 0.1);                                  // 1/L
  ResidualNetwork n2(ResidualNetworkConfig::p2(40, 10), rng);
  EXPECT_NEAR(entry_std(n2.layer_weights("W")), 1 / std::sqrt(40.0), 0.05 / std::sqrt(40.0));
  ResidualNetwork n5(ResidualNetworkConfig::p5_res3(8, 40, 1, 10, 0.5), rng);
  EXPECT_NEAR(entry_std(n5.layer_weights("V")), 1 / std::sqrt(40.0),
              0.05 / std::sqrt(40.0));  // variance 1/width
}

TEST(ResidualNetwork, ModuleConventionsAndP4Init) {
  Rng rng(4);
  ResidualNetwork net(ResidualNetworkConfig::p4(2, 3, 4, 2, 3), rng);
  const auto named = net.named_parameters();
  ASSERT_EQ(named.size(), 2u + 2u * 3u);
  EXPECT_EQ(named.front().name, "input.A");
  EXPECT_EQ(named[1].name, "layers.0.W");
  EXPECT_EQ(named[2].name, "layers.0.V");
  EXPECT_EQ(named.back().name, "output.B");
  EXPECT_FALSE(net.parameter("input.A").requires_grad);  // P4 4.5: embeddings frozen
  const WeightPath W = net.layer_weights("W"), V = net.layer_weights("V");
  for (std::size_t k = 0; k < 3; ++k)
    for (index_t i = 0; i < 12; ++i) {
      EXPECT_EQ(W[k].data()[i], W[0].data()[i]);  // tied
      EXPECT_EQ(V[k].data()[i], 0.0);             // V_k = 0
    }
  net.parameter("layers.1.V").grad(0, 0) = 3.0;
  net.zero_grad();
  EXPECT_EQ(net.parameter("layers.1.V").grad(0, 0), 0.0);
  EXPECT_EQ(net.parameter_count(), std::size_t(6 + 3 * 24 + 6));
}

TEST(ResidualNetwork, ErrorsNameTheProblem) {
  Rng rng(5);
  ResidualNetwork net(ResidualNetworkConfig::p2(3, 2), rng);
  const Matrix bad(4, 2);
  Tape<double> tape;
  EXPECT_THAT([&] { net.forward(tape, bad); }, testing::ThrowsMessage<std::invalid_argument>(
                                                   HasSubstr("x is 4x2 but the network expects 3 rows")));
  EXPECT_THAT([&] { net.parameter("nope"); },
              testing::ThrowsMessage<std::invalid_argument>(HasSubstr("no parameter named 'nope'")));
  EXPECT_THAT([&] { net.set_layer_weights("W", WeightPath(2, Matrix(2, 2))); },
              testing::ThrowsMessage<std::invalid_argument>(HasSubstr("layers.0.W is 3x3, got 2x2")));
  EXPECT_THROW(net.layer_weights("V"), std::invalid_argument);
  ResidualNetworkConfig c = ResidualNetworkConfig::p2(3, 2);
  c.width = 4;
  EXPECT_THROW(ResidualNetwork(c, rng), std::invalid_argument);
}

}  // namespace
}  // namespace tapelab::nn
