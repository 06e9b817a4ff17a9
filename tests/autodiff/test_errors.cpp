// Bad input gets a clear message, not a crash: every shape error names the op and both shapes; misuse of Vars
// and tapes is a UsageError; anomaly mode names the first op that produced a NaN or Inf.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "autodiff_test_util.hpp"

namespace tapelab {
namespace {

using kernels::Activation;
using test::message_of;
using ::testing::HasSubstr;

class ShapeErrors : public ::testing::Test {
 protected:
  Var<double> var(index_t rows, index_t cols) {
    tensors_.push_back(Tensor<double>::uniform(rows, cols, tensors_.size()));
    return tape_.variable(tensors_.back());
  }
  Tape<double> tape_;
  std::vector<Tensor<double>> tensors_ = std::vector<Tensor<double>>();

  void SetUp() override { tensors_.reserve(64); }  // views of tensors_ must stay valid
};

TEST_F(ShapeErrors, MatmulNamesBothShapesAndTheInnerDimensions) {
  EXPECT_EQ(message_of<ShapeError>([&] { matmul(var(16, 32), var(16, 256)); }),
            "matmul: lhs is 16x32 but rhs is 16x256 (inner dimensions 32 != 16)");
  EXPECT_EQ(message_of<ShapeError>([&] { matmul(var(16, 32), var(8, 16), Trans::T, Trans::N); }),
            "matmul(T,N): lhs^T is 32x16 but rhs is 8x16 (inner dimensions 16 != 8)");
  EXPECT_THAT(message_of<ShapeError>([&] { matmul(var(4, 5), var(3, 4), Trans::N, Trans::T); }),
              HasSubstr("matmul(N,T): lhs is 4x5 but rhs^T is 4x3 (inner dimensions 5 != 4)"));
}

TEST_F(ShapeErrors, ElementwiseOpsNameTheOpAndBothShapes) {
  EXPECT_EQ(message_of<ShapeError>([&] { add(var(3, 4), var(3, 5)); }),
            "add: lhs is 3x4 but rhs is 3x5 (shapes must match)");
  EXPECT_THAT(message_of<ShapeError>([&] { sub(var(3, 4), var(4, 3)); }),
              HasSubstr("sub: lhs is 3x4 but rhs is 4x3"));
  EXPECT_THAT(message_of<ShapeError>([&] { hadamard(var(1, 4), var(3, 4)); }),
              HasSubstr("hadamard: lhs is 1x4 but rhs is 3x4"));
  EXPECT_THAT(message_of<ShapeError>([&] { mse(var(2, 3), var(3, 2)); }),
              HasSubstr("mse: pred is 2x3 but target is 3x2"));
}

TEST_F(ShapeErrors, BiasMustMatchTheBroadcast) {
  EXPECT_EQ(
      message_of<ShapeError>([&] { add_bias(var(4, 3), var(1, 4), Bias::per_row); }),
      "add_bias(per_row): input is 4x3 but bias is 1x4 (a per-row bias is a column vector with one entry per "
      "row: 4x1)");
  EXPECT_THAT(message_of<ShapeError>([&] { add_bias(var(4, 3), var(4, 1), Bias::per_col); }),
              HasSubstr("add_bias(per_col): input is 4x3 but bias is 4x1"));
}

TEST_F(ShapeErrors, ResidualStepChecksWVAndB) {
  const Var<double> h = var(4, 3);
  EXPECT_THAT(message_of<ShapeError>([&] { residual_step(h, {.W = var(6, 5), .V = var(4, 6)}); }),
              HasSubstr("residual_step: W is 6x5 but h is 4x3 (inner dimensions of W h: 5 != 4)"));
  EXPECT_THAT(message_of<ShapeError>([&] { residual_step(h, {.W = var(6, 4), .V = var(6, 4)}); }),
              HasSubstr("residual_step: V is 6x4 but W is 6x4 (V must be 4x6"));
  EXPECT_THAT(message_of<ShapeError>([&] { residual_step(h, {.W = var(6, 4)}); }),
              HasSubstr("residual_step: W is 6x4 but h is 4x3 (without V (V = identity) W must be square"));
  EXPECT_THAT(message_of<ShapeError>([&] { residual_step(h, {.W = var(4, 4), .b = var(1, 4)}); }),
              HasSubstr("residual_step: b is 1x4 but W is 4x4 (b must be a contiguous 4x1 column"));
}

TEST_F(ShapeErrors, SoftmaxCrossEntropyChecksTheLabels) {
  const std::vector<int> three{0, 1, 2}, bad{0, 5};
  EXPECT_EQ(
      message_of<ShapeError>([&] { softmax_cross_entropy(var(5, 2), three); }),
      "softmax_cross_entropy: logits are 5x2 (classes x batch) but 3 labels were given (one per column)");
  EXPECT_EQ(message_of<ShapeError>([&] { softmax_cross_entropy(var(5, 2), bad); }),
            "softmax_cross_entropy: label 5 (column 1) is out of range for 5 classes (logits are 5x2)");
}

TEST_F(ShapeErrors, LeavesViewsAndItem) {
  const Tensor<double> empty(0, 3), x(2, 3);
  EXPECT_THAT(message_of<ShapeError>([&] { tape_.variable(empty); }),
              HasSubstr("variable: empty tensor 0x3"));
  EXPECT_THAT(message_of<ShapeError>([&] { (void)x.col_range(2, 4); }),
              HasSubstr("col_range: columns [2, 4) do not fit a tensor of 2x3"));
  EXPECT_THAT(message_of<ShapeError>([&] { (void)var(2, 2).item(); }),
              HasSubstr("item: the Var is 2x2, not 1x1"));
  EXPECT_THAT(message_of<ShapeError>([&] { tape_.backward(var(1, 3), Tensor<double>(3, 1)); }),
              HasSubstr("backward: output is 1x3 but seed is 3x1"));
}

TEST(UsageErrors, EmptyVarsAndVarsOfAnotherTape) {
  const Tensor<double> x{{1, 2}};
  Tape<double> a, b;
  const Var<double> va = a.variable(x), vb = b.variable(x);
  EXPECT_EQ(message_of<UsageError>([&] { add(va, vb); }),
            "add: rhs belongs to a different tape than the op's other arguments");
  EXPECT_EQ(message_of<UsageError>([&] { add(va, Var<double>()); }), "add: rhs is an empty Var");
  EXPECT_THAT(message_of<UsageError>([&] { (void)Var<double>().value(); }), HasSubstr("this Var is empty"));
  EXPECT_THAT(message_of<UsageError>([&] { add_bias(va, va, Bias::none); }), HasSubstr("per_row or per_col"));
}

TEST(Anomaly, ForwardNamesTheFirstOpThatProducedANonFiniteValue) {
  const Tensor<double> big{{1e200, 1.0}};
  Tape<double> tape;
  tape.set_anomaly_detection(true);
  const Var<double> x = tape.variable(big);
  const Var<double> y = tanh(x);  // op #1, finite
  EXPECT_EQ(message_of<AnomalyError>([&] { hadamard(x, x); }),
            "anomaly detection: op #2 hadamard produced a non-finite value: output [0, 0] = inf "
            "(its inputs are all finite)");
  (void)y;
}

TEST(Anomaly, ForwardTellsANaNPassedOnFromOneProduced) {
  const Tensor<double> nan_in{{std::numeric_limits<double>::quiet_NaN(), 1.0}};
  Tape<double> tape;
  tape.set_anomaly_detection(true);
  EXPECT_THAT(
      message_of<AnomalyError>([&] { (void)scale(tape.variable(nan_in), 2.0); }),
      HasSubstr("op #1 scale produced a non-finite value: output [0, 0] = nan (some of its inputs were "
                "already non-finite)"));
}

TEST(Anomaly, BackwardNamesTheOpWhoseGradientOverflowed) {
  const Tensor<double> x{{1.0, 2.0}}, seed{{1e300, 1.0}};
  Tape<double> tape;
  tape.set_anomaly_detection(true);
  const Var<double> vx = tape.variable(x);
  const Var<double> y = scale(tanh(vx), 1e10);  // finite forward; backward: 1e300 * 1e10 overflows in scale
  EXPECT_THAT(
      message_of<AnomalyError>([&] { tape.backward(y, seed); }),
      HasSubstr("anomaly detection: backward of scale (node #1) produced a non-finite gradient for its "
                "input 0 (1x2 output of activation(tanh)): grad[0, 0] = inf"));
}

TEST(Anomaly, ReportsNameTheScopeTheOpRanIn) {
  const Tensor<double> x{{1.0, 2.0}}, big{{1e200, 1.0}}, seed{{1e300, 1.0}};
  Tape<double> tape;
  tape.set_anomaly_detection(true);
  const Var<double> vx = tape.variable(x);
  const Var<double> a = tanh(vx);  // node #0, no scope
  tape.set_scope("layers", 0);
  tape.set_scope("layers", 1);  // replaces the empty scope layers.0
  const Var<double> y = scale(a, 1e10);  // node #1 in layers.1: backward overflows here
  tape.set_scope("blocks", 7);
  const Var<double> z = scale(y, 1.0);  // node #2 in blocks.7
  tape.clear_scope();
  const Var<double> w = scale(z, 1.0);  // node #3, no scope
  EXPECT_EQ(tape.scope_of_node(0), "");
  EXPECT_EQ(tape.scope_of_node(1), "layers.1");
  EXPECT_EQ(tape.scope_of_node(2), "blocks.7");
  EXPECT_EQ(tape.scope_of_node(3), "");
  EXPECT_THAT(message_of<AnomalyError>([&] { tape.backward(w, seed); }),
              HasSubstr("backward of scale (node #1, in layers.1) produced a non-finite gradient"));
  // Forward: the scope current when the op runs, recorded or not.
  tape.clear();
  EXPECT_EQ(tape.scope_of_node(0), "");  // clear() forgets the scopes
  tape.set_scope("layers", 12);
  const Var<double> b = tape.constant(big);
  EXPECT_THAT(message_of<AnomalyError>([&] { hadamard(b, b); }),
              HasSubstr("op #1 hadamard in layers.12 produced a non-finite value"));
}

TEST(Anomaly, OffByDefault) {
  if (anomaly_detection_default()) GTEST_SKIP() << "TAPELAB_ANOMALY is set in the environment";
  const Tensor<double> big{{1e200}};
  Tape<double> tape;
  EXPECT_FALSE(tape.anomaly_detection());
  const Var<double> x = tape.variable(big);
  EXPECT_TRUE(std::isinf(hadamard(x, x).item()));
}

}  // namespace
}  // namespace tapelab
