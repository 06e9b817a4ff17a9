// GEMM against the naive reference: every transpose form, alpha/beta in {0, 1, -0.5}, odd and rectangular shapes
// that hit every tail of the micro-tile, padded leading dimensions and unaligned starts, float and double, on
// every dispatch target this CPU has; both the small-shape direct path (M <= 256) and the packed blocked path
// (M > 256, K > KC so several depth blocks accumulate). Tolerances scale with K.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/activations.hpp"
#include "kernels/gemm.hpp"
#include "kernels/reference.hpp"
#include "kernels/target.hpp"
#include "kernel_test_util.hpp"

namespace tapelab::kernels {
namespace {

using testing::kOddSizes;
using testing::Matrix;
using testing::TargetScope;
using testing::ThreadScope;

struct GemmCase {
  Trans ta, tb;
  index_t M, N, K;
  double alpha, beta;
  index_t b_ld = 0;  // leading dimension of the stored B (0: its columns + 5)
  index_t a_ld = 0;  // leading dimension of the stored A (0: its columns + 3)
};

std::string describe(const GemmCase& c, Target t) {
  std::ostringstream s;
  s << "gemm(" << (c.ta == Trans::N ? 'N' : 'T') << (c.tb == Trans::N ? 'N' : 'T') << ") M=" << c.M
    << " N=" << c.N << " K=" << c.K << " alpha=" << c.alpha << " beta=" << c.beta << " target=" << target_name(t);
  return s.str();
}

// Stored shapes of A and B for a case.
template <class T>
std::pair<Matrix<T>, Matrix<T>> make_operands(const GemmCase& c, std::mt19937_64& rng) {
  const index_t a_cols = c.ta == Trans::N ? c.K : c.M;
  const index_t a_pad = c.a_ld > 0 ? c.a_ld - a_cols : 3;
  Matrix<T> A = c.ta == Trans::N ? Matrix<T>(c.M, c.K, a_pad) : Matrix<T>(c.K, c.M, a_pad);
  const index_t b_cols = c.tb == Trans::N ? c.N : c.K;
  const index_t b_pad = c.b_ld > 0 ? c.b_ld - b_cols : 5;
  Matrix<T> B = c.tb == Trans::N ? Matrix<T>(c.K, c.N, b_pad, 3) : Matrix<T>(c.N, c.K, b_pad, 3);
  A.randomize(rng);
  B.randomize(rng);
  return {std::move(A), std::move(B)};
}

// Runs one case on the active target and compares with the reference. The error bound for each element is
// (K + 2) * eps * (|alpha| sum_k |a_ik b_kj| + |beta c_ij|): the classic bound for a dot product of length K.
template <class T>
void check_case(const GemmCase& c, std::mt19937_64& rng, bool nan_in_c = false) {
  auto [A, B] = make_operands<T>(c, rng);
  Matrix<T> C(c.M, c.N, 2, 1);
  if (nan_in_c)
    C.fill(std::numeric_limits<T>::quiet_NaN());
  else
    C.randomize(rng);
  Matrix<T> expected = C;
  const T alpha = T(c.alpha), beta = T(c.beta);
  gemm<T>(c.ta, c.tb, c.M, c.N, c.K, alpha, A.data(), A.ld, B.data(), B.ld, beta, C.data(), C.ld);
  reference::gemm<T>(c.ta, c.tb, c.M, c.N, c.K, alpha, A.data(), A.ld, B.data(), B.ld, beta, expected.data(),
                     expected.ld);

  const T eps = std::numeric_limits<T>::epsilon();
  int reported = 0;
  for (index_t i = 0; i < c.M; ++i)
    for (index_t j = 0; j < c.N; ++j) {
      double magnitude = 0;
      for (index_t k = 0; k < c.K; ++k)
        magnitude += std::fabs(double(reference::at(c.ta, A.data(), A.ld, i, k)) *
                               double(reference::at(c.tb, B.data(), B.ld, k, j)));
      magnitude = std::fabs(c.alpha) * magnitude;
      if (!nan_in_c && beta != T(0)) magnitude += std::fabs(c.beta * double(expected(i, j)));
      const double tol = double(c.K + 2) * double(eps) * magnitude + 1e-30;
      const double got = double(C(i, j)), want = double(expected(i, j));
      if (!(std::fabs(got - want) <= tol) && reported++ < 5)
        ADD_FAILURE() << describe(c, active_target()) << ": C(" << i << "," << j << ") = " << got
                      << ", expected " << want << " (tolerance " << tol << ")";
    }
  EXPECT_TRUE(C.padding_intact()) << describe(c, active_target()) << ": wrote outside C";
}

template <class T>
class GemmTest : public ::testing::Test {};
TYPED_TEST_SUITE(GemmTest, testing::ScalarTypes);

constexpr Trans kTrans[] = {Trans::N, Trans::T};
constexpr double kScalars[] = {0.0, 1.0, -0.5};

TYPED_TEST(GemmTest, MatchesReferenceOnOddShapes) {
  using T = TypeParam;
  const std::vector<index_t> depths = {1, 3, 17, 64, 257};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(42);
    int rotation = 0;  // cycles through the 4 transpose forms x 9 (alpha, beta) pairs
    for (index_t M : kOddSizes)
      for (index_t N : kOddSizes)
        for (index_t K : depths) {
          const int r = rotation++;
          const GemmCase c{kTrans[r % 2], kTrans[(r / 2) % 2], M, N, K, kScalars[(r / 4) % 3],
                           kScalars[(r / 12) % 3]};
          check_case<T>(c, rng);
          if (this->HasFailure()) return;
        }
  }
}

TYPED_TEST(GemmTest, EveryTransposeAndScalarCombination) {
  using T = TypeParam;
  // (M, N, K): direct path with tails; K > KC (two depth blocks); M > 256 (packed path) with K > KC and
  // tails; few rows and columns with a long K (the dot-product path for A * B^T, with and without edge
  // blocks); panels exactly one vector wide (4, 8, 16 columns: read in place by the one-vector kernel) after
  // full ones; one row or one column (the GEMV loops: blocks of 4 rows / 4 vectors, then single vectors, then
  // scalars); edges two vectors wide or less, 8 rows at a time where M allows (64 x 32 x 64: exactly two
  // float vectors); A * B^T by 4 x 4 (3 x 4) dot blocks with K a whole number of vectors (their lane sums
  // reduced block by block); many rows but few columns (A read in place on AVX2 rather than packed for one or
  // two column panels); A read in place with B packed 256 columns at a time (NC_direct: 531 = 2 x 256 + a
  // tail of 19) and over two depth blocks (K = 400 > KC in float).
  const std::vector<std::tuple<index_t, index_t, index_t>> shapes = {
      {33, 65, 17},  {16, 256, 16}, {31, 7, 300}, {257, 33, 260}, {300, 70, 513}, {16, 15, 257},
      {5, 13, 129},  {9, 8, 33},    {17, 24, 5},  {8, 4, 9},      {19, 12, 7},    {16, 48, 16},
      {1, 257, 33},  {300, 1, 260}, {1, 1, 17},   {37, 1, 3},     {1, 70, 513},   {40, 1, 40},
      {1, 40, 1},    {64, 32, 64},  {24, 16, 40}, {8, 30, 9},     {16, 16, 256},  {12, 8, 64},
      {16, 12, 128}, {8, 8, 64},    {4, 8, 40},   {130, 16, 33},  {100, 31, 17},  {14, 10, 64},
      {100, 531, 37}, {72, 300, 400}};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(7);
    for (auto [M, N, K] : shapes)
      for (Trans ta : kTrans)
        for (Trans tb : kTrans)
          for (double alpha : kScalars)
            for (double beta : kScalars) check_case<T>({ta, tb, M, N, K, alpha, beta}, rng);
  }
}

// Rows of B 4 KB or 2 KB apart (N = 512 doubles, say): the small path copies each B panel before its row
// tiles (b_panel_conflicts in gemm_driver.hpp). Edges of every width after the copied panels, K past and
// below the threshold, A either way, NaN in C when beta = 0.
TYPED_TEST(GemmTest, BRowsAPowerOfTwoKilobytesApartMatchReference) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(4096);
    int rotation = 0;
    for (index_t ld_bytes : {4096, 2048, 8192})
      for (index_t M : {16, 24, 64})
        for (index_t N : {33, 64, 100})
          for (index_t K : {5, 17, 64}) {
            const int r = rotation++;
            const GemmCase c{kTrans[r % 2],
                             Trans::N,
                             M,
                             N,
                             K,
                             kScalars[(r / 2) % 3],
                             kScalars[(r / 6) % 3],
                             ld_bytes / index_t(sizeof(T))};
            check_case<T>(c, rng, c.beta == 0.0);
            if (this->HasFailure()) return;
          }
  }
}

// K = 16 (and 32, 64) with B as stored and M a multiple of 8 takes the fixed-depth tiles on AVX-512
// (gemm_fixed_depth.hpp), A either way round: a masked edge of one or two vectors, A's rows K apart (read in
// place) or not (copied), up to M = 64, also with rows of 4 KB or more (N = 1024, 1031); other M and M = 65
// take the other paths. C full of NaN when beta = 0.
TYPED_TEST(GemmTest, FixedDepthMatchesReference) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(16);
    int rotation = 0;  // cycles through the 9 (alpha, beta) pairs
    for (index_t M : kOddSizes)
      for (index_t N : kOddSizes) {
        if (M > 65 || N > 65) continue;
        const int r = rotation++;
        const double alpha = kScalars[r % 3], beta = kScalars[(r / 3) % 3];
        for (Trans ta : kTrans)
          check_case<T>({ta, Trans::N, M, N, 16, alpha, beta}, rng, /*nan_in_c=*/beta == 0.0);
        if (this->HasFailure()) return;
      }
    for (auto [M, N] : {std::pair<index_t, index_t>{16, 1024}, {8, 1031}, {64, 257}, {24, 48}})
      for (double beta : kScalars)
        for (Trans ta : kTrans) check_case<T>({ta, Trans::N, M, N, 16, -0.5, beta}, rng);
    // A's rows exactly K apart (the tiles read them in place) and A^T's exactly M apart; depths 32 and 64 (also
    // fixed-depth tiles while B is at most 32 KB: N = 37, 128 in float; past it, N = 200, other paths). With
    // A^T in double, an edge of 1-7 columns is computed down the rows: 22, 37, 52 end in 6, 5, 4 (the odd
    // sizes above give 1, 2, 3, 7).
    for (index_t K : {16, 32, 64})
      for (index_t M : {1, 3, 8, 13, 32, 64})
        for (index_t N : {22, 37, 52, 128, 200})
          for (Trans ta : kTrans) {
            check_case<T>({ta, Trans::N, M, N, K, 1.0, 0.0, 0, ta == Trans::N ? K : M}, rng, /*nan_in_c=*/true);
            check_case<T>({ta, Trans::N, M, N, K, 0.5, -1.0}, rng);
          }
  }
}

TYPED_TEST(GemmTest, WideOutputCrossesColumnBlocks) {
  // N > NC (4096 for AVX-512/AVX2) exercises the outermost column loop and the shared packed B block.
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(11);
    check_case<T>({Trans::N, Trans::T, 259, 4100, 5, 1.0, -0.5}, rng);
    check_case<T>({Trans::T, Trans::N, 17, 4133, 9, -0.5, 1.0}, rng);
  }
}

TYPED_TEST(GemmTest, BetaZeroNeverReadsC) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(3);
    for (Trans ta : kTrans)
      for (Trans tb : kTrans) {
        check_case<T>({ta, tb, 17, 33, 15, 1.0, 0.0}, rng, /*nan_in_c=*/true);
        check_case<T>({ta, tb, 300, 65, 257, -0.5, 0.0}, rng, /*nan_in_c=*/true);
        check_case<T>({ta, tb, 40, 1, 40, 1.0, 0.0}, rng, /*nan_in_c=*/true);  // GEMV
        check_case<T>({ta, tb, 1, 33, 17, -0.5, 0.0}, rng, /*nan_in_c=*/true);
      }
  }
}

TYPED_TEST(GemmTest, ZeroSizes) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    // M = 0 or N = 0: nothing is touched.
    T c = T(7);
    gemm<T>(Trans::N, Trans::N, 0, 1, 3, T(1), nullptr, 3, nullptr, 1, T(0), &c, 1);
    gemm<T>(Trans::N, Trans::N, 1, 0, 3, T(1), nullptr, 3, nullptr, 1, T(0), &c, 1);
    EXPECT_EQ(c, T(7));
    // K = 0: C = beta * C, and beta = 0 gives zeros even over NaN.
    Matrix<T> C(3, 5);
    C.fill(T(2));
    gemm<T>(Trans::N, Trans::N, 3, 5, 0, T(1), nullptr, 1, nullptr, 5, T(-0.5), C.data(), C.ld);
    for (index_t i = 0; i < 3; ++i)
      for (index_t j = 0; j < 5; ++j) EXPECT_EQ(C(i, j), T(-1));
    C.fill(std::numeric_limits<T>::quiet_NaN());
    gemm<T>(Trans::T, Trans::T, 3, 5, 0, T(1), nullptr, 1, nullptr, 1, T(0), C.data(), C.ld);
    for (index_t i = 0; i < 3; ++i)
      for (index_t j = 0; j < 5; ++j) EXPECT_EQ(C(i, j), T(0));
    EXPECT_TRUE(C.padding_intact());
    // alpha = 0: A and B are not multiplied (BLAS convention), C = beta * C.
    Matrix<T> A(3, 4), B(4, 5);
    A.fill(std::numeric_limits<T>::infinity());
    B.fill(T(1));
    C.fill(T(2));
    gemm<T>(Trans::N, Trans::N, 3, 5, 4, T(0), A.data(), A.ld, B.data(), B.ld, T(1), C.data(), C.ld);
    EXPECT_EQ(C(2, 4), T(2));
  }
}

// Bitwise identical with 1 and 2 threads, on shapes large enough to take the parallel path, both the direct
// (M <= 256) and the packed path.
TYPED_TEST(GemmTest, SameBitsForAnyThreadCount) {
  using T = TypeParam;
  const std::vector<GemmCase> cases = {{Trans::N, Trans::N, 256, 1024, 256, 1.0, 0.0},
                                       {Trans::N, Trans::T, 64, 64, 1024, 1.0, 1.0},
                                       {Trans::N, Trans::T, 16, 16, 8192, 1.0, 0.0},  // dot-product path
                                       {Trans::T, Trans::N, 301, 517, 290, -0.5, 1.0},
                                       // one thread: gemm_small (K = 16 but rows of 4 KB and more); two:
                                       // the blocked loops
                                       {Trans::N, Trans::N, 64, 4100, 16, -0.5, -0.5}};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    for (const GemmCase& c : cases) {
      std::mt19937_64 rng(5);
      auto [A, B] = make_operands<T>(c, rng);
      Matrix<T> C0(c.M, c.N);
      C0.randomize(rng);
      Matrix<T> C1 = C0, C2 = C0;
      {
        ThreadScope one(1);
        gemm<T>(c.ta, c.tb, c.M, c.N, c.K, T(c.alpha), A.data(), A.ld, B.data(), B.ld, T(c.beta), C1.data(), C1.ld);
      }
      {
        ThreadScope two(2);
        gemm<T>(c.ta, c.tb, c.M, c.N, c.K, T(c.alpha), A.data(), A.ld, B.data(), B.ld, T(c.beta), C2.data(), C2.ld);
      }
      EXPECT_EQ(C1.buf, C2.buf) << describe(c, target) << ": results differ between 1 and 2 threads";
    }
  }
}

// The fused epilogue: bias (per row and per column), activation, pre-activation output, on both paths and K = 0.
TYPED_TEST(GemmTest, FusedEpilogueMatchesReference) {
  using T = TypeParam;
  const std::vector<std::tuple<index_t, index_t, index_t>> shapes = {
      {17, 33, 15}, {300, 65, 260}, {5, 7, 0}, {16, 18, 256}, {40, 1, 40}, {1, 33, 17}};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(9);
    for (auto [M, N, K] : shapes)
      for (Activation act : kAllActivations)
        for (Bias mode : {Bias::none, Bias::per_row, Bias::per_col}) {
          const GemmCase c{Trans::N, Trans::T, M, N, K, 1.0, 0.5};
          auto [A, B] = make_operands<T>(c, rng);
          Matrix<T> C(M, N), bias(1, std::max(M, N)), pre(M, N), pre_ref(M, N);
          C.randomize(rng);
          bias.randomize(rng);
          Matrix<T> C_ref = C;
          GemmEpilogue<T> ep{bias.data(), mode, act, pre.data(), pre.ld};
          GemmEpilogue<T> ep_ref{bias.data(), mode, act, pre_ref.data(), pre_ref.ld};
          gemm<T>(c.ta, c.tb, M, N, K, T(1), A.data(), A.ld, B.data(), B.ld, T(0.5), C.data(), C.ld, &ep);
          reference::gemm<T>(c.ta, c.tb, M, N, K, T(1), A.data(), A.ld, B.data(), B.ld, T(0.5), C_ref.data(),
                             C_ref.ld, &ep_ref);
          const double tol = double(K + 8) * 8 * double(std::numeric_limits<T>::epsilon());
          for (index_t i = 0; i < M; ++i)
            for (index_t j = 0; j < N; ++j) {
              ASSERT_NEAR(double(pre(i, j)), double(pre_ref(i, j)), tol * (1 + std::fabs(double(pre_ref(i, j)))))
                  << describe(c, target) << " activation=" << activation_name(act) << " at " << i << "," << j;
              ASSERT_NEAR(double(C(i, j)), double(C_ref(i, j)), tol * (1 + std::fabs(double(C_ref(i, j)))))
                  << describe(c, target) << " activation=" << activation_name(act) << " at " << i << "," << j;
            }
          EXPECT_TRUE(C.padding_intact() && pre.padding_intact());
        }
  }
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The epilogue's derivative output: act'(Z) next to act(Z), bitwise what activation_derivative and
// activation_forward give on the kept Z (so a layer may keep either Z or act'(Z) and backward sees the same
// numbers), and within tolerance of the reference; on the direct, packed, dot-product and GEMV paths.
TYPED_TEST(GemmTest, EpilogueDerivativeIsTheActivationDerivativeOfZ) {
  using T = TypeParam;
  const std::vector<std::tuple<Trans, Trans, index_t, index_t, index_t>> shapes = {
      {Trans::N, Trans::N, 32, 100, 16}, {Trans::T, Trans::N, 17, 33, 15}, {Trans::N, Trans::N, 300, 65, 260},
      {Trans::N, Trans::T, 16, 15, 257}, {Trans::N, Trans::N, 40, 1, 40},  {Trans::N, Trans::N, 5, 7, 0}};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(19);
    for (auto [ta, tb, M, N, K] : shapes)
      for (Activation act : kAllActivations) {
        const GemmCase c{ta, tb, M, N, K, 1.0, 0.0};
        auto [A, B] = make_operands<T>(c, rng);
        Matrix<T> C(M, N, 3, 1), bias(M, 1), pre(M, N, 2, 0), d(M, N, 1, 2), C_ref(M, N), d_ref(M, N);
        C.fill(std::numeric_limits<T>::quiet_NaN());
        bias.randomize(rng);
        GemmEpilogue<T> ep{bias.data(), Bias::per_row, act, pre.data(), pre.ld, d.data(), d.ld};
        GemmEpilogue<T> ep_ref{bias.data(), Bias::per_row, act, nullptr, 0, d_ref.data(), d_ref.ld};
        gemm<T>(ta, tb, M, N, K, T(1), A.data(), A.ld, B.data(), B.ld, T(0), C.data(), C.ld, &ep);
        reference::gemm<T>(ta, tb, M, N, K, T(1), A.data(), A.ld, B.data(), B.ld, T(0), C_ref.data(), C_ref.ld,
                           &ep_ref);
        Matrix<T> want_value(M, N), want_slope(M, N);
        activation_forward<T>(act, M, N, pre.data(), pre.ld, want_value.data(), want_value.ld);
        activation_derivative<T>(act, M, N, pre.data(), pre.ld, want_slope.data(), want_slope.ld);
        const double tol = double(K + 8) * 8 * double(std::numeric_limits<T>::epsilon());
        for (index_t i = 0; i < M; ++i)
          for (index_t j = 0; j < N; ++j) {
            ASSERT_TRUE(same_bits(C(i, j), want_value(i, j)) && same_bits(d(i, j), want_slope(i, j)))
                << describe(c, target) << " activation=" << activation_name(act) << " at " << i << "," << j;
            ASSERT_NEAR(double(d(i, j)), double(d_ref(i, j)), tol * (1 + std::fabs(double(d_ref(i, j)))))
                << describe(c, target) << " activation=" << activation_name(act) << " at " << i << "," << j;
          }
        EXPECT_TRUE(C.padding_intact() && pre.padding_intact() && d.padding_intact());
      }
  }
}

// Out-of-place accumulation: C = alpha op(A) op(B) + beta c_in, C never read (it starts as NaN) and c_in never
// written, on every path (direct with N tails, packed with K > KC, dot product, GEMV, K = 0), with and without
// an activation after it.
TYPED_TEST(GemmTest, OutOfPlaceAccumulationReadsCInAndNeverC) {
  using T = TypeParam;
  const std::vector<std::tuple<index_t, index_t, index_t>> shapes = {
      {16, 100, 32}, {33, 65, 17}, {300, 70, 513}, {16, 15, 257}, {1, 40, 33}, {40, 1, 40}, {5, 7, 0}, {8, 4, 9}};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    std::mt19937_64 rng(23);
    for (auto [M, N, K] : shapes)
      for (Trans ta : kTrans)
        for (Trans tb : kTrans)
          for (double beta : kScalars)
            for (Activation act : {Activation::identity, Activation::tanh}) {
              const GemmCase c{ta, tb, M, N, K, -0.5, beta};
              auto [A, B] = make_operands<T>(c, rng);
              Matrix<T> c_in(M, N, 5, 2), C(M, N, 2, 1), want(M, N);
              c_in.randomize(rng);
              C.fill(std::numeric_limits<T>::quiet_NaN());
              const Matrix<T> c_in_before = c_in;
              want = c_in;  // the reference accumulates in place
              GemmEpilogue<T> ep;
              ep.activation = act;
              ep.c_in = c_in.data();
              ep.ld_c_in = c_in.ld;
              GemmEpilogue<T> ep_ref;
              ep_ref.activation = act;
              gemm<T>(ta, tb, M, N, K, T(-0.5), A.data(), A.ld, B.data(), B.ld, T(beta), C.data(), C.ld, &ep);
              reference::gemm<T>(ta, tb, M, N, K, T(-0.5), A.data(), A.ld, B.data(), B.ld, T(beta), want.data(),
                                 want.ld, &ep_ref);
              const double tol = double(K + 8) * 4 * double(std::numeric_limits<T>::epsilon()) * (K + 1);
              for (index_t i = 0; i < M; ++i)
                for (index_t j = 0; j < N; ++j)
                  ASSERT_NEAR(double(C(i, j)), double(want(i, j)), tol)
                      << describe(c, target) << " activation=" << activation_name(act) << " at " << i << "," << j;
              EXPECT_EQ(c_in.buf, c_in_before.buf) << describe(c, target) << ": c_in was written";
              EXPECT_TRUE(C.padding_intact()) << describe(c, target);
            }
  }
}

}  // namespace
}  // namespace tapelab::kernels
