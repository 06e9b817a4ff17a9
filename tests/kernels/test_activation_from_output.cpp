// activation_backward_from_output: σ'(x) computed from y = σ(x) must agree with σ'(x) from x (the reference
// activation_backward), for tanh, sigmoid, relu and identity, on odd shapes, every target, float and double.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernels/activations.hpp"
#include "kernels/reference.hpp"
#include "kernel_test_util.hpp"

namespace tapelab::kernels {
namespace {

using testing::Matrix;
using testing::TargetScope;

template <class T>
class ActivationFromOutput : public ::testing::Test {};
TYPED_TEST_SUITE(ActivationFromOutput, testing::ScalarTypes);

TYPED_TEST(ActivationFromOutput, MatchesBackwardFromInputOnOddShapes) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(17);
    for (Activation a : kAllActivations) {
      if (!derivative_from_output(a)) continue;
      for (index_t rows : {1, 3, 17})
        for (index_t cols : {1, 7, 16, 33, 257})
          for (T beta : {T(0), T(1), T(-0.5)}) {
            Matrix<T> x(rows, cols), y(rows, cols), dy(rows, cols), dx(rows, cols);
            x.randomize(rng, T(-3), T(3));
            dy.randomize(rng);
            if (beta == T(0))
              dx.fill(std::numeric_limits<T>::quiet_NaN());  // beta = 0 never reads dx
            else
              dx.randomize(rng);
            Matrix<T> expected = dx;
            reference::activation_forward(a, rows, cols, x.data(), x.ld, y.data(), y.ld);
            reference::activation_backward(a, rows, cols, x.data(), x.ld, dy.data(), dy.ld, beta, expected.data(),
                                           expected.ld);
            activation_backward_from_output(a, rows, cols, y.data(), y.ld, dy.data(), dy.ld, beta, dx.data(), dx.ld);
            // 1 - tanh² from a rounded tanh differs from the reference by a few ulps of 1 (absolute).
            const double tol = 16 * double(std::numeric_limits<T>::epsilon());
            for (index_t i = 0; i < rows; ++i)
              for (index_t j = 0; j < cols; ++j)
                ASSERT_NEAR(double(dx(i, j)), double(expected(i, j)), tol * (1 + std::fabs(double(expected(i, j)))))
                    << activation_name(a) << " " << rows << "x" << cols << " beta=" << beta
                    << " target=" << target_name(target) << " at " << i << "," << j;
            EXPECT_TRUE(dx.padding_intact());
          }
    }
  }
}

TEST(ActivationFromOutput, ReluSlopeIsZeroAtTheKink) {
  const double y[3] = {0.0, 2.0, 0.0}, dy[3] = {5.0, 5.0, 5.0};
  double dx[3];
  activation_backward_from_output<double>(Activation::relu, 1, 3, y, 3, dy, 3, 0.0, dx, 3);
  EXPECT_EQ(dx[0], 0.0);
  EXPECT_EQ(dx[1], 5.0);
  EXPECT_EQ(dx[2], 0.0);
}

}  // namespace
}  // namespace tapelab::kernels
