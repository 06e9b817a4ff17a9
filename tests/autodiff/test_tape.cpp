// The tape's contract (autodiff/tape.hpp): accumulation, one backward per recording, generations, depth,
// gradient lifetimes (retain_grad), NoGradGuard, views, parameters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "autodiff_test_util.hpp"

namespace tapelab {
namespace {

using kernels::Activation;
using test::max_abs_diff;
using test::message_of;
using ::testing::HasSubstr;

TEST(Tape, GradientOfSumOfSquaresIsTwiceTheInput) {
  const Tensor<double> x{{1, -2, 3}, {0.5, 4, -1}};
  Tape<double> tape;
  const Var<double> vx = tape.variable(x);
  const Var<double> loss = sum(hadamard(vx, vx));
  EXPECT_DOUBLE_EQ(loss.item(), 1 + 4 + 9 + 0.25 + 16 + 1);
  tape.backward(loss);
  for (index_t i = 0; i < 2; ++i)
    for (index_t j = 0; j < 3; ++j) EXPECT_DOUBLE_EQ(vx.grad()(i, j), 2 * x(i, j));
}

TEST(Tape, GradientsOfReusedInputsAccumulate) {
  // loss = sum(W x) + sum(W x) + sum(x): dW = 2 * 1 x^T, dx = 2 W^T 1 + 1
  const Tensor<double> W{{1, 2}, {3, 4}, {5, 6}}, x{{1}, {-1}};
  Tape<double> tape;
  const Var<double> vW = tape.variable(W), vx = tape.variable(x);
  const Var<double> y = matmul(vW, vx);
  tape.backward(add(add(sum(y), sum(y)), sum(vx)));
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 2; ++j) EXPECT_DOUBLE_EQ(vW.grad()(i, j), 2 * x(j, 0));
  EXPECT_DOUBLE_EQ(vx.grad()(0, 0), 2 * (1 + 3 + 5) + 1);
  EXPECT_DOUBLE_EQ(vx.grad()(1, 0), 2 * (2 + 4 + 6) + 1);
}

TEST(Tape, VarFromAClearedTapeIsAnErrorNotADanglingRead) {
  const Tensor<double> x{{1, 2}};
  Tape<double> tape;
  const Var<double> old = tanh(tape.variable(x));
  tape.clear();
  EXPECT_THAT(
      message_of<UsageError>([&] { (void)old.value(); }),
      HasSubstr("used after tape.clear(): it was recorded in tape generation 1 but the tape is now at "
                "generation 2"));
  EXPECT_THAT(message_of<UsageError>([&] { (void)tanh(old); }),
              HasSubstr("activation: input was recorded before tape.clear()"));
  EXPECT_THAT(message_of<UsageError>([&] { tape.backward(old); }),
              HasSubstr("backward: loss was recorded before"));
}

// Leaves reference their tensor's memory, so a temporary tensor must not become one (tape.hpp deletes those
// overloads); a named tensor, or a view of one, may.
template <class X>
concept RecordsAsConstant = requires(Tape<double>& tape, X&& x) {
  tape.constant(std::forward<X>(x));
};
template <class X>
concept RecordsAsVariable = requires(Tape<double>& tape, X&& x) {
  tape.variable(std::forward<X>(x));
};
static_assert(!RecordsAsConstant<Tensor<double>> && !RecordsAsVariable<Tensor<double>>);
static_assert(!RecordsAsConstant<const Tensor<double>> && !RecordsAsVariable<const Tensor<double>>);
static_assert(RecordsAsConstant<const Tensor<double>&> && RecordsAsVariable<Tensor<double>&>);
static_assert(RecordsAsConstant<TensorView<const double>> && RecordsAsVariable<TensorView<double>>);

TEST(Tape, SecondBackwardOnTheSameRecordingIsAnError) {
  const Tensor<double> x{{1, 2}};
  Tape<double> tape;
  const Var<double> loss = sum(tape.variable(x));
  tape.backward(loss);
  EXPECT_THAT(message_of<UsageError>([&] { tape.backward(loss); }),
              HasSubstr("backward: called twice on the same recording"));
  tape.clear();  // a new recording may be differentiated again
  tape.backward(sum(tape.variable(x)));
}

TEST(Tape, BackwardNeedsAScalarLossThatRequiresGrad) {
  const Tensor<double> x{{1, 2}};
  Tape<double> tape;
  EXPECT_THAT(message_of<ShapeError>([&] { tape.backward(tanh(tape.variable(x))); }),
              HasSubstr("backward: the loss must be 1x1 but is 1x2"));
  EXPECT_THAT(message_of<UsageError>([&] { tape.backward(sum(tape.constant(x))); }),
              HasSubstr("the output does not require grad"));
}

TEST(Tape, ScaleChainOfDepth100000) {
  // y = c^N x: no recursion, so depth is limited by memory only.
  constexpr int kDepth = 100000;
  const double c = 1 + 1e-6;
  const Tensor<double> x{{2.0}};
  Tape<double> tape;
  const Var<double> vx = tape.variable(x);
  Var<double> y = vx;
  for (int k = 0; k < kDepth; ++k) y = scale(y, c);
  EXPECT_EQ(tape.nodes().size(), std::size_t(kDepth));
  tape.backward(y);
  EXPECT_NEAR(vx.grad()(0, 0), std::pow(c, kDepth), 1e-9);
}

TEST(Tape, ResidualStepKeepsWhatResidualStepKeptValuesSays) {
  // Memory policies (nn::ResidualNetworkConfig::keep_last_bytes) plan with residual_step_kept_values: it must
  // be what one step without recompute adds to the tape over one with recompute, for every activation, with
  // and without V (m x B a multiple of 8 doubles, so the arena's 64-byte rounding adds nothing).
  const index_t d = 4, m = 8, B = 6;
  Tape<double> tape;
  const Tensor<double> h{d, B}, W{m, d}, V{d, m}, W_square{d, d};  // variables must outlive the recording
  for (Activation act : kernels::kAllActivations)
    for (bool has_v : {false, true}) {
      const index_t rows = has_v ? m : d;  // without V, W is square
      std::size_t bytes[2];
      for (bool recompute : {false, true}) {
        tape.clear();
        const Var<double> vh = tape.variable(h), vW = tape.variable(has_v ? W : W_square),
                          vV = has_v ? tape.variable(V) : Var<double>{};
        const std::size_t before = tape.arena().bytes_in_use();
        residual_step(vh, {.W = vW, .V = vV, .act = act, .recompute = recompute});
        bytes[recompute] = tape.arena().bytes_in_use() - before;
      }
      EXPECT_EQ(bytes[0] - bytes[1],
                std::size_t(residual_step_kept_values(act, has_v, rows, B)) * sizeof(double))
          << kernels::activation_name(act) << (has_v ? " with V" : " without V");
    }
}

TEST(Tape, ResidualChainOfDepth100000MatchesClosedFormAndRecyclesGradients) {
  // h_{k+1} = h_k + a W h_k (identity activation, V = I, shared W), loss = sum(h_N):
  // dl/dh_0 = ((I + a W)^T)^N 1.
  constexpr int kDepth = 100000;
  const double a = 1.0 / kDepth;
  const Tensor<double> W{{0.3, -0.2}, {0.1, 0.4}}, h0{{1.0}, {-0.5}};
  Tape<double> tape;
  const Var<double> vW = tape.variable(W), vh0 = tape.variable(h0);
  Var<double> h = vh0;
  for (int k = 0; k < kDepth; ++k) h = residual_step(h, {.W = vW, .alpha = a, .act = Activation::identity});
  const std::size_t bytes_after_forward = tape.arena().bytes_in_use();
  tape.backward(sum(h));
  // Without recycling, backward would add 100,000 gradient buffers; with it, a handful.
  EXPECT_LT(tape.arena().bytes_in_use() - bytes_after_forward, std::size_t(64 * 64));

  double g[2] = {1, 1};
  for (int k = 0; k < kDepth; ++k) {  // g <- (I + a W)^T g
    const double g0 = g[0] + a * (W(0, 0) * g[0] + W(1, 0) * g[1]);
    const double g1 = g[1] + a * (W(0, 1) * g[0] + W(1, 1) * g[1]);
    g[0] = g0;
    g[1] = g1;
  }
  EXPECT_NEAR(vh0.grad()(0, 0), g[0], 1e-9 * std::fabs(g[0]));
  EXPECT_NEAR(vh0.grad()(1, 0), g[1], 1e-9 * std::fabs(g[1]));
}

// A 6-layer fused residual net whose hidden states h_k are retained.
struct RetainedNet {
  Tensor<double> x = Tensor<double>::uniform(4, 3, 1), W = Tensor<double>::uniform(4, 4, 2),
                 V = Tensor<double>::uniform(4, 4, 3), b = Tensor<double>::uniform(4, 1, 4);
};

TEST(Tape, RetainGradKeepsTheBackwardDynamicsOfIntermediates) {
  RetainedNet net;
  Tape<double> tape;
  const Var<double> vW = tape.variable(net.W), vV = tape.variable(net.V), vb = tape.variable(net.b);
  std::vector<Var<double>> hs{tape.variable(net.x)};
  for (int k = 0; k < 6; ++k) {
    hs.push_back(
        residual_step(hs.back(), {.W = vW, .V = vV, .b = vb, .alpha = 0.5, .act = Activation::tanh}));
    if (k != 2) hs.back().retain_grad();  // h_3 is not retained
  }
  tape.backward(squared_norm(hs.back()));

  // dl/dh_k from the full recording equals the gradient of a recording that starts at h_k.
  for (std::size_t k = 1; k < hs.size(); ++k) {
    if (k == 3) continue;
    const Tensor<double> hk(hs[k].value());
    Tape<double> tail;
    const Var<double> start = tail.variable(hk), tW = tail.variable(net.W), tV = tail.variable(net.V),
                      tb = tail.variable(net.b);
    Var<double> h = start;
    for (std::size_t j = k; j < 6; ++j)
      h = residual_step(h, {.W = tW, .V = tV, .b = tb, .alpha = 0.5, .act = Activation::tanh});
    tail.backward(squared_norm(h));
    EXPECT_LE(max_abs_diff(hs[k].grad(), start.grad()), 1e-13) << "h_" << k;
  }
  EXPECT_THAT(message_of<UsageError>([&] { (void)hs[3].grad(); }),
              HasSubstr("was not retained; call retain_grad() on it before backward()"));
  EXPECT_THAT(message_of<UsageError>([&] { hs[2].retain_grad(); }), HasSubstr("called after backward()"));
}

TEST(Tape, GradBeforeBackwardAndOfConstantsAreErrors) {
  const Tensor<double> x{{1, 2}};
  Tape<double> tape;
  const Var<double> v = tape.variable(x), c = tape.constant(x);
  const Var<double> loss = sum(add(v, c));
  EXPECT_THAT(message_of<UsageError>([&] { (void)v.grad(); }), HasSubstr("backward() has not run"));
  tape.backward(loss);
  EXPECT_THAT(message_of<UsageError>([&] { (void)c.grad(); }), HasSubstr("does not require grad"));
  const Var<double> unused = tape.variable(x);
  EXPECT_THAT(message_of<UsageError>([&] { (void)unused.grad(); }),
              HasSubstr("the loss does not depend on it"));
}

TEST(NoGradGuard, OpsComputeWithoutRecording) {
  const Tensor<double> x{{0.5, -1}};
  Parameter<double> p(Tensor<double>{{2, 3}});
  Tape<double> tape;
  const Var<double> vx = tape.variable(x), vp = tape.param(p);
  {
    NoGradGuard outer;
    {
      NoGradGuard inner;
      EXPECT_FALSE(grad_mode_enabled());
    }
    EXPECT_FALSE(grad_mode_enabled());  // nested guards restore the enclosing state
    const Var<double> y = sum(hadamard(tanh(vx), vp));
    EXPECT_EQ(tape.nodes().size(), 0u);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_NEAR(y.item(), 2 * std::tanh(0.5) + 3 * std::tanh(-1.0), 1e-15);
    EXPECT_THAT(message_of<UsageError>([&] { tape.backward(y); }), HasSubstr("NoGradGuard"));
  }
  EXPECT_TRUE(grad_mode_enabled());
  EXPECT_TRUE(sum(vx).requires_grad());
  EXPECT_EQ(tape.nodes().size(), 1u);
}

TEST(Views, MiniBatchColumnRangeMatchesACopy) {
  // X is 4 x 10; the mini-batch is columns [3, 8). The view has ld 10: ops must honour it.
  const Tensor<double> X = Tensor<double>::uniform(4, 10, 5), Y = Tensor<double>::uniform(2, 10, 6);
  Parameter<double> W(Tensor<double>::uniform(4, 4, 7)), b(Tensor<double>::uniform(4, 1, 8)),
      C(Tensor<double>::uniform(2, 4, 9));
  const TensorView<const double> xb = X.col_range(3, 8), yb = Y.col_range(3, 8);
  EXPECT_EQ(xb.ld, 10);
  const Tensor<double> xc(xb), yc(yb);

  auto run = [&](TensorView<const double> x, TensorView<const double> y, Tensor<double>* dx) {
    for (Parameter<double>* p : {&W, &b, &C}) p->zero_grad();
    Tape<double> tape;
    const Var<double> vx = tape.variable(x);
    const Var<double> h = residual_step(vx, {.W = tape.param(W), .b = tape.param(b), .alpha = 0.5});
    const Var<double> z =
        add_bias(matmul(tape.param(W), vx), tape.param(b));  // unfused ops read the view too
    const Var<double> loss = mse(matmul(tape.param(C), add(h, tanh(z))), tape.constant(y));
    tape.backward(loss);
    *dx = Tensor<double>(vx.grad());
    return loss.item();
  };
  Tensor<double> dx_view, dx_copy;
  const double l_view = run(xb, yb, &dx_view);
  const Tensor<double> dW_view = W.grad, db_view = b.grad, dC_view = C.grad;
  const double l_copy = run(xc, yc, &dx_copy);
  EXPECT_DOUBLE_EQ(l_view, l_copy);
  EXPECT_EQ(max_abs_diff<double>(dx_view, dx_copy), 0.0);
  EXPECT_EQ(max_abs_diff<double>(dW_view, W.grad), 0.0);
  EXPECT_EQ(max_abs_diff<double>(db_view, b.grad), 0.0);
  EXPECT_EQ(max_abs_diff<double>(dC_view, C.grad), 0.0);
}

TEST(Parameters, GradientsAccumulateAcrossRecordingsUntilZeroGrad) {
  Parameter<double> w(Tensor<double>{{1, 2}});
  Parameter<double> frozen(Tensor<double>{{3, 4}});
  frozen.requires_grad = false;
  Tape<double> tape;
  for (int pass = 1; pass <= 2; ++pass) {
    tape.clear();
    tape.backward(sum(hadamard(tape.param(w), tape.param(frozen))));  // d/dw = frozen
    EXPECT_DOUBLE_EQ(w.grad(0, 0), 3.0 * pass);
    EXPECT_DOUBLE_EQ(w.grad(0, 1), 4.0 * pass);
  }
  EXPECT_DOUBLE_EQ(frozen.grad(0, 0), 0.0);
  w.zero_grad();
  EXPECT_DOUBLE_EQ(w.grad(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(w.grad(0, 1), 0.0);
  // The parameter's value and grad outlive the tape's recordings.
  tape.clear();
  EXPECT_DOUBLE_EQ(w.value(0, 1), 2.0);
}

// The gradients below, of loss = sum(W x) + sum(W W') for a shared 2 x 2 W (W' its second use), computed on a
// plain tape into zeroed Parameter::grad: the reference for the redirected ones.
struct SharedWeight {
  Parameter<double> W{Tensor<double>{{1, -2}, {3, 0.5}}};
  Parameter<double> unused{Tensor<double>{{7, 8}}};   // recorded, but the loss does not depend on it
  Parameter<double> absent{Tensor<double>{{9, 10}}};  // never put on the tape
  const Tensor<double> x{{2}, {-1}};
  Var<double> loss(Tape<double>& tape, bool twice) {
    const Var<double> w = tape.param(W);
    tape.param(unused);
    Var<double> l = sum(matmul(w, tape.constant(x)));
    if (twice) l = add(l, sum(matmul(tape.param(W), tape.param(W))));
    return l;
  }
};

Tensor<double> plain_gradient(bool twice) {
  SharedWeight s;
  Tape<double> tape;
  tape.backward(s.loss(tape, twice));
  return s.W.grad;
}

TEST(Parameters, RedirectedGradientsAccumulateIntoTheMappedBuffer) {
  SharedWeight s;
  Tensor<double> buffer{{100, 200}, {300, 400}};
  Tape<double>::GradRedirects to;
  to.add(s.W.grad.data(), {buffer.data()});
  Tape<double> tape;
  tape.redirect_param_grads(&to);
  tape.backward(s.loss(tape, true));
  const Tensor<double> want = plain_gradient(true);
  EXPECT_DOUBLE_EQ(buffer(0, 0), 100 + want(0, 0));
  EXPECT_DOUBLE_EQ(buffer(1, 1), 400 + want(1, 1));
  EXPECT_DOUBLE_EQ(s.W.grad(0, 0), 0.0);  // Parameter::grad itself untouched
  EXPECT_TRUE(to[0].recorded(tape));
}

TEST(Parameters, OverwrittenGradientBuffersNeedNoZeroing) {
  // Buffers full of NaN (what "holds nothing yet" may hold): each recording's backward overwrites them, with
  // W used once or three times (a shared weight: every use counts), leaves the recorded-but-unreached one at
  // zero and does not touch the one never recorded. Anomaly detection does not mistake the NaN for a
  // gradient.
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  for (bool twice : {false, true})
    for (bool anomaly : {false, true}) {
      SharedWeight s;
      Tensor<double> gW(2, 2), gU(1, 2), gA(1, 2);
      Tape<double>::GradRedirects to;  // not in the order of use: found by hashing, not by the hint
      const std::size_t absent = to.add(s.absent.grad.data(), {gA.data(), true});
      const std::size_t unused = to.add(s.unused.grad.data(), {gU.data(), true});
      to.add(s.W.grad.data(), {gW.data(), true});
      Tape<double> tape;
      tape.set_anomaly_detection(anomaly);
      tape.redirect_param_grads(&to);
      const Tensor<double> want = plain_gradient(twice);
      for (int recording = 0; recording < 2; ++recording) {  // the second overwrites the first, too
        for (Tensor<double>* g : {&gW, &gU, &gA})
          kernels::fill(g->rows(), g->cols(), nan, g->data(), g->ld());
        tape.clear();
        tape.backward(s.loss(tape, twice));
        for (index_t i = 0; i < 2; ++i)
          for (index_t j = 0; j < 2; ++j)
            EXPECT_EQ(gW(i, j), want(i, j)) << "twice " << twice << ", recording " << recording;
        EXPECT_EQ(gU(0, 0), 0.0);
        EXPECT_EQ(gU(0, 1), 0.0);
        EXPECT_TRUE(std::isnan(gA(0, 0)));
        EXPECT_TRUE(to[unused].recorded(tape));
        EXPECT_FALSE(to[absent].recorded(tape));
      }
    }
}

TEST(Losses, SoftmaxCrossEntropyMatchesItsDefinition) {
  // logits 3 classes x 2 samples, labels {2, 0}
  const Tensor<double> z{{1.0, -0.5}, {2.0, 0.25}, {0.5, 3.0}};
  const std::vector<int> labels{2, 0};
  Tape<double> tape;
  const Var<double> vz = tape.variable(z);
  const Var<double> loss = softmax_cross_entropy(vz, labels);
  double expected = 0;
  for (index_t j = 0; j < 2; ++j) {
    double s = 0;
    for (index_t i = 0; i < 3; ++i) s += std::exp(z(i, j));
    expected += std::log(s) - z(labels[std::size_t(j)], j);
  }
  EXPECT_NEAR(loss.item(), expected / 2, 1e-15);
  tape.backward(loss);
  double column_sum = 0;
  for (index_t i = 0; i < 3; ++i) column_sum += vz.grad()(i, 0);
  EXPECT_NEAR(column_sum, 0.0, 1e-15);  // softmax - onehot sums to zero per sample
}

TEST(Arena, RewindKeepsBlocksAndRepeatsWithoutHeapAllocation) {
  Arena arena(256);
  const std::size_t sizes[] = {100, 300, 50, 1000, 70};
  std::size_t after_first_pass = 0;
  for (int pass = 0; pass < 3; ++pass) {
    arena.rewind();
    for (std::size_t n : sizes) {
      void* p = arena.allocate(n);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % Arena::kAlignment, 0u);
    }
    if (pass == 0) after_first_pass = arena.heap_allocations();
  }
  EXPECT_GT(after_first_pass, 1u);  // the 256-byte first block had to grow
  EXPECT_EQ(arena.heap_allocations(), after_first_pass);
}

}  // namespace
}  // namespace tapelab
