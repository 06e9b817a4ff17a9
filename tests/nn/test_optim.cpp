// Optimisers and the training loop: GD converges on a convex quadratic, momentum and Adam match their closed
// forms, per-group learning rates and clipping, mini-batches, and the NaN/Inf error message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "kernels/target.hpp"
#include "nn/data.hpp"
#include "nn/init.hpp"
#include "nn/optim.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"

namespace tapelab::nn {
namespace {

using testing::HasSubstr;

// A module with two parameters, for the quadratic f(x, y) = ||x - a||^2 + ||y - b||^2.
class TwoParams : public Module {
 public:
  TwoParams()
      : x(add_parameter("x", Tensor<double>{{1.0, -2.0}})), y(add_parameter("y", Tensor<double>{{3.0}})) {}
  Param& x;
  Param& y;
};

Var<double> quadratic(Tape<double>& tape, TwoParams& m, const Tensor<double>& a, const Tensor<double>& b) {
  return add(squared_norm(sub(tape.param(m.x), tape.constant(a))),
             squared_norm(sub(tape.param(m.y), tape.constant(b))));
}

TEST(Optim, GradientDescentConvergesLinearlyOnAConvexQuadratic) {
  TwoParams m;
  const Tensor<double> a{{0.5, 0.25}}, b{{-1.0}};
  GradientDescent gd(single_group(m, 0.1));
  Tape<double> tape;
  double loss = 0;
  for (int it = 0; it < 200; ++it)
    loss = train_step(it, tape, m, gd, [&](Tape<double>& t) { return quadratic(t, m, a, b); });
  EXPECT_LT(loss, 1e-30);  // contraction (1 - 2 lr)^2 = 0.64 per step
  EXPECT_NEAR(m.x.value(0, 1), 0.25, 1e-15);
  EXPECT_EQ(gd.steps_taken(), 200);
}

TEST(Optim, PerGroupLearningRatesAndClipping) {
  TwoParams m;
  m.x.grad(0, 0) = 1.0;
  m.x.grad(0, 1) = 1.0;
  m.y.grad(0, 0) = 1.0;
  GradientDescent gd({ParamGroup{{&m.x}, 10.0, 5.0}, ParamGroup{{&m.y}, 0.5}});
  gd.step();
  EXPECT_EQ(m.x.value(0, 0), -5.0);  // 1 - 10 = -9, clipped to -5 (P4 π)
  EXPECT_EQ(m.x.value(0, 1), -5.0);
  EXPECT_EQ(m.y.value(0, 0), 2.5);  // 3 - 0.5, own learning rate
  EXPECT_THROW(GradientDescent({ParamGroup{{&m.x}, -1.0}}), std::invalid_argument);
}

// step_and_check_finite (train_step's update and check of the updated values): the same update as step(), and
// false exactly when an updated value overflows, for GD's one-sweep version (with and without clipping) and the
// default of the other optimisers.
TEST(Optim, StepAndCheckFiniteUpdatesLikeStepAndCatchesAnOverflow) {
  const double huge = std::numeric_limits<double>::max();
  for (double clip : {std::numeric_limits<double>::infinity(), 1e300}) {
    TwoParams m1, m2;
    for (TwoParams* m : {&m1, &m2}) {
      m->x.grad(0, 0) = 0.5;
      m->x.grad(0, 1) = -2.0;
      m->y.grad(0, 0) = 1.0;
    }
    GradientDescent a({ParamGroup{m1.parameters(), 0.1, clip}}), b({ParamGroup{m2.parameters(), 0.1, clip}});
    a.step();
    EXPECT_TRUE(b.step_and_check_finite());
    EXPECT_EQ(m1.x.value(0, 0), m2.x.value(0, 0));
    EXPECT_EQ(m1.x.value(0, 1), m2.x.value(0, 1));
    EXPECT_EQ(m1.y.value(0, 0), m2.y.value(0, 0));
    EXPECT_EQ(b.steps_taken(), 1);
    m2.y.value(0, 0) = huge;  // huge - 1e308 * (-huge) overflows to inf, unless clipped back to 1e300
    m2.y.grad(0, 0) = -huge;
    GradientDescent wild({ParamGroup{m2.parameters(), 1e308, clip}});
    EXPECT_EQ(wild.step_and_check_finite(), !std::isinf(clip));
  }
  TwoParams m;
  m.y.value(0, 0) = huge;
  m.y.grad(0, 0) = -huge;
  Adam adam(single_group(m, 1.0));
  EXPECT_TRUE(adam.step_and_check_finite());  // Adam's step is bounded by lr: no overflow
  m.y.value(0, 0) = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(adam.step_and_check_finite());
}

TEST(Optim, FrozenParametersDoNotMove) {
  TwoParams m;
  m.y.requires_grad = false;
  m.y.grad(0, 0) = 1.0;
  Adam adam(single_group(m, 0.1));
  adam.step();
  EXPECT_EQ(m.y.value(0, 0), 3.0);
}

TEST(Optim, MomentumMatchesTheHeavyBallRecursion) {
  TwoParams m;
  Momentum opt(single_group(m, 0.1), 0.9);
  m.x.grad(0, 0) = 2.0;
  opt.step();  // v = 2, x = 1 - 0.2
  EXPECT_DOUBLE_EQ(m.x.value(0, 0), 0.8);
  opt.step();  // v = 0.9*2 + 2 = 3.8, x = 0.8 - 0.38
  EXPECT_DOUBLE_EQ(m.x.value(0, 0), 0.8 - 0.38);
  EXPECT_EQ(opt.state().size(), 2u);
}

TEST(Optim, AdamFirstStepEqualsItsClosedForm) {
  // After one step m̂ = g, v̂ = g²: the update is lr g / (|g| + eps), i.e. about lr sign(g).
  TwoParams m;
  m.x.grad(0, 0) = 3.0;
  m.x.grad(0, 1) = -1e-3;
  Adam adam(single_group(m, 0.01), 0.9, 0.999, 1e-8);
  adam.step();
  EXPECT_DOUBLE_EQ(m.x.value(0, 0), 1.0 - 0.01 * 3.0 / (3.0 + 1e-8));
  EXPECT_DOUBLE_EQ(m.x.value(0, 1), -2.0 + 0.01 * 1e-3 / (1e-3 + 1e-8));
  EXPECT_EQ(m.y.value(0, 0), 3.0);  // zero gradient: no move
  // Second step with the same gradient: m = g(1 - 0.81)... m̂ = g, v̂ = g² again: the same update.
  const double before = m.x.value(0, 0);
  adam.step();
  EXPECT_NEAR(m.x.value(0, 0), before - 0.01 * 3.0 / (3.0 + 1e-8), 1e-15);
}

TEST(Train, NanIsReportedWithIterationAndFirstBadParameter) {
  Rng rng(1);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 3), rng);
  const Tensor<double> x{{1.0}, {2.0}}, y{{0.0}, {0.0}};
  GradientDescent gd(single_group(net, 0.1));
  Tape<double> tape;
  auto loss = [&](Tape<double>& t) { return mse(net.forward(t, x), t.constant(y)); };
  train_step(0, tape, net, gd, loss);
  net.parameter("layers.1.W").value(1, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT([&] { train_step(7, tape, net, gd, loss); },
              testing::ThrowsMessage<NonFiniteError>(HasSubstr(
                  "iteration 7: loss is nan; iteration 7: parameter 'layers.1.W' is nan at (1, 0)")));
  net.parameter("layers.1.W").value(1, 0) = 0.0;
  net.parameter("layers.2.W").grad(0, 1) = std::numeric_limits<double>::infinity();
  EXPECT_THAT([&] { check_finite(9, 1.0, net); },
              testing::ThrowsMessage<NonFiniteError>(
                  HasSubstr("iteration 9: gradient of parameter 'layers.2.W' is inf at (0, 1)")));
  // A diverging learning rate on a quadratic (x - a <- -19 (x - a)) is caught at the step it overflows.
  TwoParams m;
  const Tensor<double> a{{0.5, 0.25}}, b{{-1.0}};
  GradientDescent wild(single_group(m, 10.0));
  try {
    for (int it = 0; it < 1000; ++it)
      train_step(it, tape, m, wild, [&](Tape<double>& t) { return quadratic(t, m, a, b); });
    FAIL() << "no NonFiniteError";
  } catch (const NonFiniteError& e) {
    // The loss ~ 19^{2n} overflows first, near n = 121 (the weights ~ 19^n are still finite then).
    EXPECT_GT(e.iteration(), 110);
    EXPECT_LT(e.iteration(), 130);
    EXPECT_THAT(e.what(), HasSubstr("iteration " + std::to_string(e.iteration()) + ": loss is inf"));
    // Every weight is finite there, so the forward pass is replayed to name the op where inf first appeared.
    EXPECT_THAT(e.what(), HasSubstr("replayed: anomaly detection: op #"));
    EXPECT_THAT(e.what(), HasSubstr("produced a non-finite value"));
  }
}

TEST(Train, AnOverflowInsideTheNetworkIsTracedToItsLayer) {
  // Finite weights whose products overflow: layers 2 and 3 multiply h by ~1e200 each, so h_3 ~ 1e200 is
  // finite and h_4 is not. The replay with anomaly detection names the layer, as the parameters are named.
  Rng rng(4);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 6, Activation::identity), rng);
  for (const char* name : {"layers.2.W", "layers.3.W"})
    for (index_t i = 0; i < 2; ++i)
      for (index_t j = 0; j < 2; ++j) net.parameter(name).value(i, j) = 1e200;
  const Tensor<double> x{{1.0}, {2.0}}, y{{0.0}, {0.0}};
  GradientDescent gd(single_group(net, 0.1));
  Tape<double> tape;
  auto loss = [&](Tape<double>& t) { return mse(net.forward(t, x), t.constant(y)); };
  try {
    train_step(5, tape, net, gd, loss);
    FAIL() << "no NonFiniteError";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(e.iteration(), 5);
    EXPECT_THAT(e.what(), HasSubstr("iteration 5: loss is "));  // inf - inf further up: nan
    EXPECT_THAT(e.what(), HasSubstr("replayed: anomaly detection: op #4 residual_step(identity, V=I, no b) in "
                                    "layers.3 produced a non-finite value"));
  }
  EXPECT_FALSE(tape.anomaly_detection());  // on for the replay only
}

TEST(Train, EpochBatchesArePermutationsAndGatherPicksColumns) {
  Rng rng(2);
  const auto batches = epoch_batches(rng, 10, 4);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].size(), 2u);
  std::set<std::size_t> seen;
  for (const auto& b : batches) seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 10u);
  const Tensor<double> x{{0, 1, 2}, {10, 11, 12}};
  const Tensor<double> g = gather_columns(x, {2, 0});
  EXPECT_EQ(g(1, 0), 12.0);
  EXPECT_EQ(g(0, 1), 0.0);
  EXPECT_THROW(gather_columns(x, {3}), std::invalid_argument);
}

class Linear : public Module {
 public:
  Linear() : w(add_parameter("w", Tensor<double>(1, 3))) {}
  Param& w;
};

TEST(Train, MiniBatchSgdSolvesANoiseFreeLinearRegression) {
  // y = w* x exactly, so every mini-batch gradient vanishes at w*: SGD converges to it, not just near it.
  Rng rng(3);
  const Tensor<double> w_star{{0.5, -1.0, 2.0}};
  Tensor<double> x(3, 40), y(1, 40);
  for (index_t j = 0; j < 40; ++j) {
    for (index_t i = 0; i < 3; ++i) x(i, j) = rng.normal();
    for (index_t i = 0; i < 3; ++i) y(0, j) += w_star(0, i) * x(i, j);
  }
  Linear model;
  GradientDescent sgd(single_group(model, 0.1));
  Tape<double> tape;
  long long it = 0;
  for (int epoch = 0; epoch < 60; ++epoch)
    for (const auto& batch : epoch_batches(rng, 40, 8)) {
      const Tensor<double> xb = gather_columns(x, batch), yb = gather_columns(y, batch);
      train_step(it++, tape, model, sgd, [&](Tape<double>& t) {
        return mse(matmul(t.param(model.w), t.constant(xb)), t.constant(yb));
      });
    }
  for (index_t i = 0; i < 3; ++i) EXPECT_NEAR(model.w.value(0, i), w_star(0, i), 1e-8);
}

TEST(Train, P4LossIsSumOverOutputsMeanOverSamples) {
  const Tensor<double> p{{1, 2}, {3, 4}}, y{{0, 0}, {0, 0}};
  Tape<double> tape;
  EXPECT_DOUBLE_EQ(mean_squared_norm_loss(tape.constant(p), tape.constant(y)).item(), (1 + 9 + 4 + 16) / 2.0);
}

// A whole P4 training step (X6's model: a batch of 100 columns runs as two halves) gives the same bits on one
// and two threads: losses and every parameter after three GD steps.
std::vector<double> p4_after_three_steps(int threads) {
  kernels::set_num_threads(threads);
  kernels::set_op_threads(threads);
  kernels::set_op_min_parallel_flops(0.0);  // split every layer, small as they are
  Rng rng(5);
  const Dataset data = p4_gaussian_data(rng, 100, 4, 4);
  ResidualNetwork net(ResidualNetworkConfig::p4(4, 4, 8, 4, 6, kernels::Activation::gelu_erf), rng);
  net.set_layer_weights("V", WeightPath(6, gaussian(rng, 4, 8, 0.5)));  // V = 0 would hide half the backward
  ParamGroup group{{}, 0.06};
  for (Param* p : net.parameters())
    if (p->requires_grad) group.params.push_back(p);
  GradientDescent gd({group});
  Tape<double> tape;
  std::vector<double> out;
  for (int it = 0; it < 3; ++it)
    out.push_back(train_step(it, tape, net, gd, [&](Tape<double>& t) {
      return mean_squared_norm_loss(net.forward(t, data.x), t.constant(data.y));
    }));
  for (Param* p : net.parameters()) out.insert(out.end(), p->value.data(), p->value.data() + p->value.size());
  kernels::set_num_threads(1);
  kernels::set_op_threads(1);
  kernels::set_op_min_parallel_flops(kernels::kDefaultOpMinParallelFlops);
  return out;
}

TEST(Train, P4StepGivesTheSameBitsOnOneAndTwoThreads) {
  const std::vector<double> one = p4_after_three_steps(1), two = p4_after_three_steps(2);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)), 0);
  EXPECT_TRUE(std::isfinite(one[2]));
}

}  // namespace
}  // namespace tapelab::nn
