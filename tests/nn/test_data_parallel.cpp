// DataParallelStep: the same bits on one and two threads, the same gradients as train_step on the whole batch
// for the P4 network (residual_step cuts a batch of 64 or more the same way), and NaN/Inf reports that name
// the iteration and the layer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/target.hpp"
#include "nn/data.hpp"
#include "nn/data_parallel.hpp"
#include "nn/init.hpp"
#include "nn/optim.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"

namespace tapelab::nn {
namespace {

using testing::HasSubstr;

// X6's model, small: P4 with GELU-erf, V drawn (V = 0 would hide half the backward), n samples.
struct P4Setup {
  Rng rng{5};
  Dataset data;
  ResidualNetwork net;
  GradientDescent gd;
  explicit P4Setup(index_t n, std::size_t depth = 6)
      : data(p4_gaussian_data(rng, n, 4, 4)),
        net(ResidualNetworkConfig::p4(4, 4, 8, 4, depth, kernels::Activation::gelu_erf), rng),
        gd({trainable(net, 0.06)}) {
    net.set_layer_weights("V", WeightPath(depth, gaussian(rng, 4, 8, 0.5)));
  }
  static ParamGroup trainable(Module& m, double lr) {
    ParamGroup g{{}, lr};
    for (Param* p : m.parameters())
      if (p->requires_grad) g.params.push_back(p);
    return g;
  }
  DataParallelStep::PartLoss part_loss() {
    return [this](Tape<double>& t, ColumnRange c) {
      const index_t n = data.x.cols();
      return mean_squared_norm_loss(net.forward(t, data.x.col_range(c.begin, c.end)),
                                    t.constant(data.y.col_range(c.begin, c.end)), n);
    };
  }
  std::vector<double> values() {
    std::vector<double> out;
    for (Param* p : net.parameters())
      out.insert(out.end(), p->value.data(), p->value.data() + p->value.size());
    return out;
  }
};

struct Trajectory {
  std::vector<double> losses, values;
};

Trajectory data_parallel(index_t n, int threads, int steps = 3) {
  kernels::set_num_threads(threads);
  P4Setup s(n);
  DataParallelStep step(s.net);
  Trajectory t;
  for (int it = 0; it < steps; ++it) t.losses.push_back(step.step(it, s.gd, n, s.part_loss(), threads));
  t.values = s.values();
  kernels::set_num_threads(1);
  return t;
}

Trajectory whole_batch(index_t n, int steps = 3) {
  P4Setup s(n);
  Tape<double> tape;
  Trajectory t;
  for (int it = 0; it < steps; ++it)
    t.losses.push_back(train_step(it, tape, s.net, s.gd, [&](Tape<double>& tp) {
      return mean_squared_norm_loss(s.net.forward(tp, s.data.x), tp.constant(s.data.y));
    }));
  t.values = s.values();
  return t;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

TEST(DataParallelStep, OneAndTwoThreadsGiveTheSameBits) {
  const Trajectory one = data_parallel(100, 1), two = data_parallel(100, 2);
  EXPECT_TRUE(same_bits(one.losses, two.losses));
  EXPECT_TRUE(same_bits(one.values, two.values));
  EXPECT_TRUE(std::isfinite(one.losses.back()));
  EXPECT_LT(one.losses.back(), one.losses.front());  // and it trains
}

TEST(DataParallelStep, MatchesTheWholeBatchStep) {
  // residual_step cuts a batch of 100 into the same halves and adds their gradients in the same order, so
  // the weights follow the same trajectory bit for bit; the loss is summed in another order (to rounding).
  const Trajectory parts = data_parallel(100, 2), whole = whole_batch(100);
  EXPECT_TRUE(same_bits(parts.values, whole.values));
  ASSERT_EQ(parts.losses.size(), whole.losses.size());
  for (std::size_t i = 0; i < parts.losses.size(); ++i)
    EXPECT_NEAR(parts.losses[i], whole.losses[i], 1e-14 * whole.losses[i]);
  EXPECT_NE(parts.losses.front(), parts.losses.back());
}

TEST(DataParallelStep, ASmallBatchStaysWhole) {
  // Under 64 columns there is one part: exactly train_step, loss included.
  const Trajectory parts = data_parallel(40, 2), whole = whole_batch(40);
  EXPECT_TRUE(same_bits(parts.losses, whole.losses));
  EXPECT_TRUE(same_bits(parts.values, whole.values));
}

TEST(DataParallelStep, AnOverflowIsTracedToItsIterationAndLayer) {
  P4Setup s(100, 6);
  for (index_t i = 0; i < 8; ++i)
    for (index_t j = 0; j < 4; ++j) {
      s.net.parameter("layers.2.W").value(i, j) = 1e150;
      s.net.parameter("layers.3.W").value(i, j) = 1e150;
    }
  s.net.set_layer_weights("V", WeightPath(6, Matrix::filled(4, 8, 1e150)));
  DataParallelStep step(s.net);
  try {
    step.step(11, s.gd, 100, s.part_loss(), 2);
    FAIL() << "no NonFiniteError";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(e.iteration(), 11);
    EXPECT_THAT(e.what(), HasSubstr("iteration 11: loss is "));
    EXPECT_THAT(e.what(), HasSubstr("replayed: anomaly detection: op #"));
    EXPECT_THAT(e.what(), HasSubstr(" in layers."));
  }
}

TEST(DataParallelStep, AnErrorInAPartReachesTheCaller) {
  P4Setup s(100);
  DataParallelStep step(s.net);
  const Tensor<double> wrong(3, 100);  // the network wants 4 rows
  auto bad = [&](Tape<double>& t, ColumnRange c) {
    return mean_squared_norm_loss(s.net.forward(t, wrong.col_range(c.begin, c.end)),
                                  t.constant(s.data.y.col_range(c.begin, c.end)), 100);
  };
  EXPECT_THAT(
      [&] { step.step(0, s.gd, 100, bad, 2); },
      testing::ThrowsMessage<std::invalid_argument>(HasSubstr("x is 3x50 but the network expects 4 rows")));
}

TEST(DataParallelStep, FollowsAParameterGivenANewGradientTensor) {
  // Part 1's gradients are found by where Parameter::grad lives; a new grad tensor must not be written by
  // both parts at once (which would also double count). The trajectory stays the whole-batch one.
  P4Setup s(100);
  DataParallelStep step(s.net);
  step.step(0, s.gd, 100, s.part_loss(), 2);
  for (Param* p : s.net.parameters()) p->grad = Tensor<double>(p->rows(), p->cols());
  for (int it = 1; it < 3; ++it) step.step(it, s.gd, 100, s.part_loss(), 2);
  EXPECT_TRUE(same_bits(s.values(), whole_batch(100).values));
}

TEST(DataParallelStep, AStepThatThrowsAfterPartOnesBackwardLeavesNoGradientBehind) {
  // Part 1's gradient buffers are emptied by the sum that ends a step, not refilled with zeros at the next
  // one. Here part 0's loss is NaN (a NaN input in its columns) while part 1's is finite: part 1 runs its
  // backward and the step throws before the sum. The next steps must not add that stale gradient in.
  P4Setup s(100);
  DataParallelStep step(s.net);
  const std::vector<double> before = s.values();
  const double x00 = s.data.x(0, 0);
  s.data.x(0, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(step.step(0, s.gd, 100, s.part_loss(), 2), NonFiniteError);
  EXPECT_TRUE(same_bits(s.values(), before));  // nothing was updated
  s.data.x(0, 0) = x00;
  for (int it = 0; it < 3; ++it) step.step(it, s.gd, 100, s.part_loss(), 2);
  EXPECT_TRUE(same_bits(s.values(), whole_batch(100).values));
}

TEST(DataParallelStep, ABadGradientIsNamedBeforeAnyUpdate) {
  // The finiteness scan rides on the sum of the parts' gradients and covers every parameter, as
  // check_finite's own sweep did: an Inf in the gradient of a frozen embedding (which no step writes or
  // zeroes, and which the finite loss cannot reveal) is named, before any parameter has moved.
  P4Setup s(100);
  DataParallelStep step(s.net);
  std::string frozen;
  for (const NamedParameter& np : s.net.named_parameters())
    if (!np.parameter->requires_grad) {
      frozen = np.name;
      np.parameter->grad(1, 0) = std::numeric_limits<double>::infinity();
      break;
    }
  ASSERT_FALSE(frozen.empty());
  const std::vector<double> before = s.values();
  EXPECT_THAT([&] { step.step(4, s.gd, 100, s.part_loss(), 2); },
              testing::ThrowsMessage<NonFiniteError>(
                  HasSubstr("iteration 4: gradient of parameter '" + frozen + "' is inf at (1, 0)")));
  EXPECT_TRUE(same_bits(s.values(), before));
}

TEST(DataParallelStep, LeavesEachGradientAsZeroGradAndBackwardWould) {
  // No zero_grad sweep runs, yet Parameter::grad ends up as train_step leaves it: the optimizer's parameters
  // hold this step's gradient (overwritten), a trainable parameter outside the optimizer keeps accumulating
  // over steps, and a frozen one inside it is zeroed (it gets no gradient but zero_grad would zero it).
  struct Run {
    P4Setup s{100};
    std::string outside, frozen;
    explicit Run(bool parts) {
      ParamGroup group{{}, 0.06};
      for (const NamedParameter& np : s.net.named_parameters()) {
        if (np.name == "layers.2.W") {
          outside = np.name;  // trainable, not in the optimizer
          continue;
        }
        if (!np.parameter->requires_grad && frozen.empty()) frozen = np.name;
        group.params.push_back(np.parameter);
      }
      GradientDescent gd({group});
      s.net.parameter(frozen).grad(0, 0) = 5.0;
      DataParallelStep step(s.net);
      Tape<double> tape;
      for (int it = 0; it < 2; ++it) {
        if (parts)
          step.step(it, gd, 100, s.part_loss(), 2);
        else
          train_step(it, tape, s.net, gd, [&](Tape<double>& t) {
            return mean_squared_norm_loss(s.net.forward(t, s.data.x), t.constant(s.data.y));
          });
      }
    }
    std::vector<double> grads() {
      std::vector<double> out;
      for (Param* p : s.net.parameters())
        out.insert(out.end(), p->grad.data(), p->grad.data() + p->grad.size());
      return out;
    }
  };
  Run parts(true), whole(false);
  ASSERT_FALSE(parts.frozen.empty());
  EXPECT_TRUE(same_bits(parts.grads(), whole.grads()));
  EXPECT_TRUE(same_bits(parts.s.values(), whole.s.values()));
  EXPECT_EQ(parts.s.net.parameter(parts.frozen).grad(0, 0), 0.0);
  EXPECT_NE(parts.s.net.parameter(parts.outside).grad(0, 0), 0.0);
}

TEST(MeanSquaredNormLoss, APartIsItsShareOfTheWholeBatch) {
  const Tensor<double> p{{1, 2, 5}, {3, 4, 6}}, y(2, 3);
  Tape<double> tape;
  const double whole = mean_squared_norm_loss(tape.constant(p), tape.constant(y)).item();
  auto share = [&](index_t begin, index_t end) {
    return mean_squared_norm_loss(tape.constant(p.col_range(begin, end)),
                                  tape.constant(y.col_range(begin, end)), 3)
        .item();
  };
  const double first = share(0, 2), last = share(2, 3);
  EXPECT_DOUBLE_EQ(first + last, whole);
  EXPECT_THROW(mean_squared_norm_loss(tape.constant(p), tape.constant(y), 2), std::invalid_argument);
}

}  // namespace
}  // namespace tapelab::nn
