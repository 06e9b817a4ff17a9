// The gradient check, driven by one table that lists every op (kOpChecks below). Each entry is checked in
// double against central finite differences at random odd shapes (dimensions from {1, 3, 5, 7}) for several
// seeds. OpTable.CoversEveryOp fails when an op label in all_op_labels() (autodiff/op_kind.hpp) is recorded
// by no entry: a new op without a check is a test failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "autodiff/batch_parts.hpp"
#include "autodiff_test_util.hpp"

namespace tapelab {
namespace {

using kernels::Activation;
using Shape = std::pair<index_t, index_t>;
using Args = std::span<const Var<double>>;

struct Dims {
  index_t m, k, n;  // three independent odd dimensions
};

struct OpCheck {
  std::string name;
  std::vector<Shape> (*shapes)(Dims);
  GradcheckFunction f;
  double kink_margin = 0;  // inputs with |x| < margin are moved to ±margin (ReLU's kink at 0)
};

std::vector<Shape> one_mn(Dims d) { return {{d.m, d.n}}; }
std::vector<Shape> two_mn(Dims d) { return {{d.m, d.n}, {d.m, d.n}}; }

// Deterministic labels for softmax cross-entropy: column j gets class (3 j + 1) mod C.
std::vector<int> labels_for(index_t classes, index_t batch) {
  std::vector<int> labels(static_cast<std::size_t>(batch));
  for (index_t j = 0; j < batch; ++j) labels[std::size_t(j)] = int((3 * j + 1) % classes);
  return labels;
}

// residual_step entries: inputs h (d x B), W (m x d), [V (d x m)], [b (m x 1)]; m == d without V.
std::vector<Shape> residual_shapes(Dims dims, bool has_v, bool has_b) {
  const index_t d = dims.m, B = dims.n, m = has_v ? dims.k : dims.m;
  std::vector<Shape> s{{d, B}, {m, d}};
  if (has_v) s.push_back({d, m});
  if (has_b) s.push_back({m, 1});
  return s;
}
template <bool V, bool Bias>
std::vector<Shape> residual_shapes_t(Dims dims) {
  return residual_shapes(dims, V, Bias);
}
// A batch of 64 + n columns: residual_step then cuts it in two parts (autodiff/batch_parts.hpp), one of them odd.
template <bool V, bool Bias>
std::vector<Shape> residual_shapes_split_t(Dims dims) {
  return residual_shapes(Dims{dims.m, dims.k, 2 * kMinBatchPartColumns + dims.n}, V, Bias);
}
using ShapeFn = std::vector<Shape> (*)(Dims);
ShapeFn residual_shape_fn(bool has_v, bool has_b) {
  if (has_v) return has_b ? &residual_shapes_t<true, true> : &residual_shapes_t<true, false>;
  return has_b ? &residual_shapes_t<false, true> : &residual_shapes_t<false, false>;
}
ResidualStep<double> residual_args(Args a, Activation act, bool has_v, bool has_b, bool recompute = false) {
  ResidualStep<double> s{.W = a[1], .alpha = 0.37, .gamma = 0.8, .act = act, .recompute = recompute};
  if (has_v) s.V = a[2];
  if (has_b) s.b = a[has_v ? 3 : 2];
  return s;
}

std::vector<OpCheck> make_op_checks() {
  std::vector<OpCheck> t = {
      {"matmul(N,N)",
       [](Dims d) {
         return std::vector<Shape>{{d.m, d.k}, {d.k, d.n}};
       },
       [](Tape<double>&, Args a) { return matmul(a[0], a[1]); }},
      {"matmul(N,T)",
       [](Dims d) {
         return std::vector<Shape>{{d.m, d.k}, {d.n, d.k}};
       },
       [](Tape<double>&, Args a) { return matmul(a[0], a[1], Trans::N, Trans::T); }},
      {"matmul(T,N)",
       [](Dims d) {
         return std::vector<Shape>{{d.k, d.m}, {d.k, d.n}};
       },
       [](Tape<double>&, Args a) { return matmul(a[0], a[1], Trans::T, Trans::N); }},
      {"matmul(T,T)",
       [](Dims d) {
         return std::vector<Shape>{{d.k, d.m}, {d.n, d.k}};
       },
       [](Tape<double>&, Args a) { return matmul(a[0], a[1], Trans::T, Trans::T); }},
      {"matmul(T,N) of one input with itself (A^T A: gradients accumulate)",
       [](Dims d) {
         return std::vector<Shape>{{d.k, d.m}};
       },
       [](Tape<double>&, Args a) { return matmul(a[0], a[0], Trans::T, Trans::N); }},
      {"matmul(N,T) of one input with itself (A A^T: gradients accumulate)", one_mn,
       [](Tape<double>&, Args a) { return matmul(a[0], a[0], Trans::N, Trans::T); }},
      {"add", two_mn, [](Tape<double>&, Args a) { return add(a[0], a[1]); }},
      {"add of one input with itself", one_mn, [](Tape<double>&, Args a) { return a[0] + a[0]; }},
      {"sub", two_mn, [](Tape<double>&, Args a) { return sub(a[0], a[1]); }},
      {"hadamard", two_mn, [](Tape<double>&, Args a) { return hadamard(a[0], a[1]); }},
      {"hadamard of one input with itself", one_mn,
       [](Tape<double>&, Args a) { return hadamard(a[0], a[0]); }},
      {"scale", one_mn, [](Tape<double>&, Args a) { return scale(a[0], -1.7); }},
      {"add_bias(per_row)",
       [](Dims d) {
         return std::vector<Shape>{{d.m, d.n}, {d.m, 1}};
       },
       [](Tape<double>&, Args a) { return add_bias(a[0], a[1], Bias::per_row); }},
      {"add_bias(per_col)",
       [](Dims d) {
         return std::vector<Shape>{{d.m, d.n}, {1, d.n}};
       },
       [](Tape<double>&, Args a) { return add_bias(a[0], a[1], Bias::per_col); }},
      {"sum", one_mn, [](Tape<double>&, Args a) { return sum(a[0]); }},
      {"mean", one_mn, [](Tape<double>&, Args a) { return mean(a[0]); }},
      {"squared_norm", one_mn, [](Tape<double>&, Args a) { return squared_norm(a[0]); }},
      {"mse", two_mn, [](Tape<double>&, Args a) { return mse(a[0], a[1]); }},
      {"softmax_cross_entropy", one_mn,
       [](Tape<double>&, Args a) {
         const std::vector<int> labels = labels_for(a[0].rows(), a[0].cols());
         return softmax_cross_entropy(a[0], labels);
       }},
      {"a two-layer net: mean(tanh(W2 relu(W1 x + b1)))",
       [](Dims d) {
         return std::vector<Shape>{{d.k, d.m}, {d.m, d.n}, {d.k, 1}, {d.n, d.k}};
       },
       [](Tape<double>&, Args a) {
         return mean(tanh(matmul(a[3], softplus(add_bias(matmul(a[0], a[1]), a[2])))));
       }},
  };
  for (Activation act : kernels::kAllActivations) {
    const std::string name(kernels::activation_name(act));
    t.push_back({"activation(" + name + ")", one_mn,
                 [act](Tape<double>&, Args a) { return activation(a[0], act); },
                 act == Activation::relu ? 0.05 : 0.0});
    for (bool has_v : {true, false})
      for (bool has_b : {true, false}) {
        const std::string suffix = name + (has_v ? ", V" : ", V=I") + (has_b ? ", b)" : ", no b)");
        t.push_back({"residual_step(" + suffix, residual_shape_fn(has_v, has_b), [=](Tape<double>&, Args a) {
                       return residual_step(a[0], residual_args(a, act, has_v, has_b));
                     }});
        t.push_back({"residual_step with recompute (" + suffix, residual_shape_fn(has_v, has_b),
                     [=](Tape<double>&, Args a) {
                       return residual_step(a[0], residual_args(a, act, has_v, has_b, /*recompute=*/true));
                     }});
        if (has_v == has_b)  // two of the four variants: a batch cut in parts, with and without recompute
          t.push_back({"residual_step on a batch in two parts (" + suffix,
                       has_v ? &residual_shapes_split_t<true, true> : &residual_shapes_split_t<false, false>,
                       [=](Tape<double>&, Args a) {
                         return residual_step(a[0], residual_args(a, act, has_v, has_b, /*recompute=*/!has_v));
                       }});
        t.push_back({"residual_step_reference(" + suffix, residual_shape_fn(has_v, has_b),
                     [=](Tape<double>&, Args a) {
                       return residual_step_reference(a[0], residual_args(a, act, has_v, has_b));
                     }});
      }
  }
  return t;
}

const std::vector<OpCheck>& op_checks() {
  static const std::vector<OpCheck> table = make_op_checks();
  return table;
}

// Random odd dimensions and inputs in [-2, 2] (kinks avoided) for one seed.
std::vector<Tensor<double>> make_inputs(const OpCheck& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const index_t odd[] = {1, 3, 5, 7};
  const Dims dims{odd[rng() % 4], odd[rng() % 4], odd[rng() % 4]};
  std::vector<Tensor<double>> inputs;
  for (const Shape& s : c.shapes(dims)) {
    Tensor<double> x = Tensor<double>::uniform(s.first, s.second, rng(), -2.0, 2.0);
    for (index_t i = 0; i < x.rows(); ++i)
      for (index_t j = 0; j < x.cols(); ++j)
        if (std::fabs(x(i, j)) < c.kink_margin) x(i, j) = x(i, j) < 0 ? -c.kink_margin : c.kink_margin;
    inputs.push_back(std::move(x));
  }
  return inputs;
}

constexpr std::uint64_t kSeeds[] = {1, 2, 3, 4};

class GradcheckTable : public ::testing::TestWithParam<std::size_t> {};

TEST_P(GradcheckTable, MatchesFiniteDifferencesOnOddShapes) {
  const OpCheck& c = op_checks()[GetParam()];
  for (std::uint64_t seed : kSeeds) {
    const std::vector<Tensor<double>> inputs = make_inputs(c, seed * 7919 + GetParam());
    GradcheckOptions opt;
    opt.seed = seed;
    const GradcheckResult r = gradcheck(c.name, c.f, inputs, opt);
    EXPECT_TRUE(r.ok) << r.message << " [seed " << seed << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryOp, GradcheckTable, ::testing::Range<std::size_t>(0, op_checks().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           std::string name;
                           for (char ch : op_checks()[info.param].name)
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return std::to_string(info.param) + "_" + name.substr(0, 60);
                         });

TEST(OpTable, CoversEveryOp) {
  std::set<std::string> covered;
  for (const OpCheck& c : op_checks()) {
    const GradcheckResult r = gradcheck(c.name, c.f, make_inputs(c, 1));
    covered.insert(r.ops_recorded.begin(), r.ops_recorded.end());
  }
  for (const std::string& label : all_op_labels())
    EXPECT_TRUE(covered.count(label))
        << "op " << label << " has no entry in the gradcheck table (tests/autodiff/test_gradcheck.cpp)";
}

TEST(Gradcheck, CatchesAWrongGradientAndSaysWhere) {
  // f(x) = x * value(x): the second factor is read outside the tape, so backward misses it (gives x, not 2x).
  const GradcheckFunction wrong = [](Tape<double>&, Args a) { return scale(a[0], a[0].value()(0, 0)); };
  std::vector<Tensor<double>> in;
  in.push_back(Tensor<double>{{1.5}});
  const GradcheckResult r = gradcheck("x*value(x)", wrong, in);
  ASSERT_FALSE(r.ok);
  EXPECT_THAT(r.message,
              ::testing::HasSubstr("gradcheck failed for x*value(x): argument 0 (1x1) at index (0, 0)"));
  EXPECT_THAT(r.message, ::testing::HasSubstr("expected "));
  EXPECT_THAT(r.message, ::testing::HasSubstr("but backward gave "));
}

// ---- the fused residual step against its reference composition
// ------------------------------------------------

template <class T>
struct StepGrads {
  Tensor<T> out, dh, dW, dV, db;
};

enum class Impl { fused, fused_recompute, reference };

template <class T>
StepGrads<T> run_step(Impl impl, Activation act, bool has_v, bool has_b, std::uint64_t seed, index_t B = 7) {
  const index_t d = 5, m = has_v ? 3 : d;
  const Tensor<T> h = Tensor<T>::uniform(d, B, seed + 1), W = Tensor<T>::uniform(m, d, seed + 2),
                  V = Tensor<T>::uniform(d, m, seed + 3), b = Tensor<T>::uniform(m, 1, seed + 4),
                  R = Tensor<T>::uniform(d, B, seed + 5);
  Tape<T> tape;
  const Var<T> vh = tape.variable(h), vW = tape.variable(W);
  ResidualStep<T> s{
      .W = vW, .alpha = T(0.25), .gamma = T(0.6), .act = act, .recompute = impl == Impl::fused_recompute};
  if (has_v) s.V = tape.variable(V);
  if (has_b) s.b = tape.variable(b);
  const Var<T> out = impl == Impl::reference ? residual_step_reference(vh, s) : residual_step(vh, s);
  tape.backward(out, R);
  StepGrads<T> g{Tensor<T>(out.value()), Tensor<T>(vh.grad()), Tensor<T>(vW.grad()), {}, {}};
  if (has_v) g.dV = Tensor<T>(s.V.grad());
  if (has_b) g.db = Tensor<T>(s.b.grad());
  return g;
}

template <class T>
void expect_same_step(const StepGrads<T>& f, const StepGrads<T>& r, bool has_v, bool has_b, double tol) {
  EXPECT_LE(test::max_abs_diff<T>(f.out, r.out), tol);
  EXPECT_LE(test::max_abs_diff<T>(f.dh, r.dh), tol);
  EXPECT_LE(test::max_abs_diff<T>(f.dW, r.dW), tol);
  if (has_v) {
    EXPECT_LE(test::max_abs_diff<T>(f.dV, r.dV), tol);
  }
  if (has_b) {
    EXPECT_LE(test::max_abs_diff<T>(f.db, r.db), tol);
  }
}

template <class T>
void expect_fused_matches_reference(double tol) {
  for (index_t B : {index_t(7), 2 * kMinBatchPartColumns + 1})  // one batch part, two
    for (Activation act : kernels::kAllActivations)
      for (bool has_v : {true, false})
        for (bool has_b : {true, false}) {
          SCOPED_TRACE(op_label(OpKind::residual_step, residual_variant(act, has_v, has_b)) + " B=" +
                       std::to_string(B));
          const StepGrads<T> fused = run_step<T>(Impl::fused, act, has_v, has_b, 11, B),
                             reference = run_step<T>(Impl::reference, act, has_v, has_b, 11, B),
                             recomputed = run_step<T>(Impl::fused_recompute, act, has_v, has_b, 11, B);
          expect_same_step(fused, reference, has_v, has_b, tol);
          expect_same_step(fused, recomputed, has_v, has_b, 0.0);  // recomputation is bitwise identical
        }
}

// Recomputing in backward gives the bits of keeping A and act'(Z) also when only some inputs need gradients
// (each a variable or a constant): e.g. only V's, where backward needs A but not dZ.
TEST(ResidualStep, RecomputeGivesTheSameBitsWhenOnlySomeInputsNeedGradients) {
  const index_t d = 5, m = 3, B = 2 * kMinBatchPartColumns + 1;
  const Tensor<double> h = Tensor<double>::uniform(d, B, 21), W = Tensor<double>::uniform(m, d, 22),
                       V = Tensor<double>::uniform(d, m, 23), b = Tensor<double>::uniform(m, 1, 24),
                       R = Tensor<double>::uniform(d, B, 25);
  for (Activation act : kernels::kAllActivations)
    for (unsigned wanted = 1; wanted < 16; ++wanted) {  // bits: h, W, V, b
      SCOPED_TRACE(std::string(kernels::activation_name(act)) + " wanted " + std::to_string(wanted));
      std::vector<Tensor<double>> grads[2];
      for (bool recompute : {false, true}) {
        Tape<double> tape;
        auto input = [&](const Tensor<double>& x, unsigned bit) {
          return (wanted & bit) ? tape.variable(x) : tape.constant(x);
        };
        Var<double> vh = input(h, 1);
        ResidualStep<double> s{
            .W = input(W, 2), .alpha = 0.25, .gamma = 0.6, .act = act, .recompute = recompute};
        s.V = input(V, 4);
        s.b = input(b, 8);
        tape.backward(residual_step(vh, s), R);
        for (const Var<double>* v : {&vh, &s.W, &s.V, &s.b})
          if (v->requires_grad()) grads[recompute].emplace_back(v->grad());
      }
      ASSERT_EQ(grads[0].size(), grads[1].size());
      for (std::size_t k = 0; k < grads[0].size(); ++k)
        EXPECT_EQ(test::max_abs_diff<double>(grads[0][k], grads[1][k]), 0.0);
    }
}

TEST(ResidualStep, FusedMatchesReferenceCompositionDouble) { expect_fused_matches_reference<double>(1e-13); }
TEST(ResidualStep, FusedMatchesReferenceCompositionFloat) { expect_fused_matches_reference<float>(2e-6); }

// The tape's threading contract (autodiff/tape.hpp, batch_parts.hpp): a batch cut in parts gives the same bits
// on one thread and on two, outputs and every gradient, in both memory policies, also when the gradients of a
// weight shared by two layers accumulate across nodes and onto a gradient that was already there.
template <class T>
std::vector<T> two_shared_steps(Activation act, bool has_v, bool has_b, bool recompute, index_t B, int threads) {
  kernels::set_num_threads(threads);
  kernels::set_op_threads(threads);
  kernels::set_op_min_parallel_flops(0.0);  // these layers are far too small to be split by default
  const index_t d = 5, m = has_v ? 8 : d;
  const Tensor<T> h = Tensor<T>::uniform(d, B, 1), R = Tensor<T>::uniform(d, B, 5);
  Parameter<T> W(Tensor<T>::uniform(m, d, 2)), V(Tensor<T>::uniform(d, m, 3)), b(Tensor<T>::uniform(m, 1, 4));
  Tape<T> tape;
  for (int pass = 0; pass < 2; ++pass) {  // the second pass accumulates onto the first pass's gradients
    tape.clear();
    const Var<T> vh = tape.variable(h);
    ResidualStep<T> s{.W = tape.param(W), .alpha = T(0.25), .gamma = T(0.6), .act = act, .recompute = recompute};
    if (has_v) s.V = tape.param(V);
    if (has_b) s.b = tape.param(b);
    const Var<T> out = residual_step(residual_step(vh, s), s);
    tape.backward(out, R);
    if (pass == 1) {
      std::vector<T> all(out.value().data, out.value().data + d * B);
      for (const TensorView<const T>& g : {vh.grad(), TensorView<const T>(W.grad), TensorView<const T>(V.grad),
                                           TensorView<const T>(b.grad)})
        for (index_t i = 0; i < g.rows; ++i)
          for (index_t j = 0; j < g.cols; ++j) all.push_back(g(i, j));
      kernels::set_num_threads(1);
      kernels::set_op_threads(1);
      kernels::set_op_min_parallel_flops(kernels::kDefaultOpMinParallelFlops);
      return all;
    }
  }
  return {};
}

TEST(ResidualStep, BatchPartsGiveTheSameBitsForAnyThreadCount) {
  for (index_t B : {index_t(100), 2 * kMinBatchPartColumns + 1})
    for (Activation act : {Activation::gelu_erf, Activation::tanh, Activation::relu})
      for (bool has_v : {true, false})
        for (bool recompute : {false, true}) {
          SCOPED_TRACE(op_label(OpKind::residual_step, residual_variant(act, has_v, has_v)) + " B=" +
                       std::to_string(B) + (recompute ? " recompute" : ""));
          const std::vector<double> one = two_shared_steps<double>(act, has_v, has_v, recompute, B, 1),
                                    two = two_shared_steps<double>(act, has_v, has_v, recompute, B, 2);
          ASSERT_EQ(one.size(), two.size());
          EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)), 0);
          const std::vector<float> one_f = two_shared_steps<float>(act, has_v, has_v, recompute, B, 1),
                                   two_f = two_shared_steps<float>(act, has_v, has_v, recompute, B, 2);
          EXPECT_EQ(std::memcmp(one_f.data(), two_f.data(), one_f.size() * sizeof(float)), 0);
        }
}

}  // namespace
}  // namespace tapelab
