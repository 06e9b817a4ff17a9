// Autodiff benchmarks, tapelab beside libtorch in one run (libtorch rows only when it was found at configure
// time).
//
// BM_TapeOverhead/<op>/<tape|kernels>: a chain of 1000 tiny (8x8) ops recorded and differentiated, versus the
//   same kernel calls made by hand; counter per_op (time per op, SI prefix: 45n = 45 ns). The difference of
//   the two rows is the tape's overhead; BM_TapeOverheadPaired/<op> measures it from the two timed back to
//   back (counter overhead_ns), which a shared core's drift between rows does not skew.
// BM_TrainStep/<tapelab|libtorch>/<f32|f64>/<d>/<L>: one SGD step of the residual network in
//   bench_autodiff.hpp, one thread. Counter GFLOPS counts the model's GEMMs only (not the recomputation). At
//   L = 1024, f64, two variants: tapelab-recompute (ResidualStep::recompute, backward recomputes W h + b
//   instead of reading it back from memory) and tapelab-unfused (the same model from matmul, add_bias, tanh,
//   matmul, scale, add); at L = 1024 also tapelab-2t: two threads, wall-clock time (same bits as one thread).
// BM_P4Step/tapelab/f64/<L>: one full-batch GD iteration of experiment X6 (P4, paper scaling) exactly as
//   X6 runs it: nn::ResidualNetwork with ResidualNetworkConfig::p4(16, 16, 32, 16, L, gelu_erf)
//   (h_{k+1} = h_k + V act(W h / 4) / (L sqrt 32); recompute, but the last layers keep their activations
//   within each tape's share of the last-level cache), n = 100 Gaussian samples, loss (1/n)||h_L - y||^2,
//   nn::GradientDescent with lr = 0.01 L on every W_k, V_k, through nn::DataParallelStep (the batch's halves
//   on their own tapes, so with train_step's NaN/Inf checks). One thread; tapelab-2t rows two, the halves
//   side by side and op threads for the optimizer's sweeps, as X6 trains its reference network (wall-clock
//   time).
// BM_P4KernelsOnly/<tapelab|tapelab-2t>/f64/1024: the kernel calls of that iteration alone, every layer on the
//   same few kilobytes (caches hot): no tape, memory traffic, recomputation or optimizer sweep. A floor under
//   BM_P4Step with these kernels on this machine.
// BM_GemmRate/gemm1024/<f32|f64>: tapelab's one-thread GEMM at 1024^3 (within a few % of OpenBLAS and of the
//   core's FMA peak; bench_kernels), the rate against which scripts/bench_table.py puts every training step's
//   GEMM flops: flops / rate is a floor no implementation doing the model's arithmetic goes under on this
//   CPU, and libtorch's time over that floor is the largest speed-up over libtorch any implementation could
//   show.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "bench_autodiff.hpp"
#include "kernels/kernels.hpp"
#include "nn/data.hpp"
#include "nn/data_parallel.hpp"
#include "nn/init.hpp"
#include "nn/optim.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"
#include "paired_timing.hpp"

namespace tapelab::bench {
namespace {

using kernels::Activation;

constexpr int kChain = 1000;
constexpr index_t kTiny = 8;

void set_time_per_op(benchmark::State& state, double ops_per_iteration) {
  // Seconds per op, printed with an SI prefix (e.g. 45.2n = 45.2 ns).
  state.counters["per_op"] = benchmark::Counter(
      ops_per_iteration, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// ---- tape overhead
// ------------------------------------------------------------------------------------------

// Each chain is one tiny-op computation done two ways: through the tape (record, then backward) and as the
// same kernel calls made by hand, into buffers allocated once. The time between the two is the tape's.

// y_{k+1} = W y_k (8x8 matmul), W shared: forward 1 GEMM, backward 2 GEMMs per op.
class MatmulChain {
 public:
  void tape_pass() {
    tape_.clear();
    const Var<double> w = tape_.variable(W_);
    Var<double> y = tape_.variable(x_);
    for (int k = 0; k < kChain; ++k) y = matmul(w, y);
    tape_.backward(y, x_);
    benchmark::DoNotOptimize(w.grad().data);
  }
  void kernels_pass() {
    const index_t n = kTiny;
    ys_[0] = x_;
    for (int k = 0; k < kChain; ++k)
      kernels::gemm(Trans::N, Trans::N, n, n, n, 1.0, W_.data(), n, ys_[std::size_t(k)].data(), n, 0.0,
                    ys_[std::size_t(k) + 1].data(), n);
    kernels::copy(n, n, x_.data(), n, g_.data(), n);
    for (int k = kChain; k-- > 0;) {
      kernels::gemm(Trans::N, Trans::T, n, n, n, 1.0, g_.data(), n, ys_[std::size_t(k)].data(), n,
                    k + 1 == kChain ? 0.0 : 1.0, dW_.data(), n);
      kernels::gemm(Trans::T, Trans::N, n, n, n, 1.0, W_.data(), n, g_.data(), n, 0.0, g2_.data(), n);
      std::swap(g_, g2_);
    }
    benchmark::DoNotOptimize(dW_.data());
  }

 private:
  const Tensor<double> W_ = Tensor<double>::uniform(kTiny, kTiny, 1, -0.3, 0.3),
                       x_ = Tensor<double>::uniform(kTiny, kTiny, 2);
  Tape<double> tape_;
  std::vector<Tensor<double>> ys_ = std::vector<Tensor<double>>(kChain + 1, Tensor<double>(kTiny, kTiny));
  Tensor<double> dW_{kTiny, kTiny}, g_{kTiny, kTiny}, g2_{kTiny, kTiny};
};

// y_{k+1} = y_k ⊙ c (8x8 hadamard with a constant): the cheapest kernels, so the overhead shows.
class HadamardChain {
 public:
  void tape_pass() {
    tape_.clear();
    const Var<double> vc = tape_.constant(c_);
    const Var<double> v = tape_.variable(x_);
    Var<double> y = v;
    for (int k = 0; k < kChain; ++k) y = hadamard(y, vc);
    tape_.backward(y, x_);
    benchmark::DoNotOptimize(v.grad().data);
  }
  void kernels_pass() {
    const index_t n = kTiny;
    ys_[0] = x_;
    for (int k = 0; k < kChain; ++k)
      kernels::hadamard(n, n, ys_[std::size_t(k)].data(), n, c_.data(), n, ys_[std::size_t(k) + 1].data(), n);
    kernels::copy(n, n, x_.data(), n, g_.data(), n);
    for (int k = kChain; k-- > 0;) {
      kernels::hadamard(n, n, g_.data(), n, c_.data(), n, g2_.data(), n);
      std::swap(g_, g2_);
    }
    benchmark::DoNotOptimize(g_.data());
  }

 private:
  const Tensor<double> c_ = Tensor<double>::uniform(kTiny, kTiny, 1, 0.9, 1.1),
                       x_ = Tensor<double>::uniform(kTiny, kTiny, 2);
  Tape<double> tape_;
  std::vector<Tensor<double>> ys_ = std::vector<Tensor<double>>(kChain + 1, Tensor<double>(kTiny, kTiny));
  Tensor<double> g_{kTiny, kTiny}, g2_{kTiny, kTiny};
};

template <class Chain, bool kTape>
void BM_Chain(benchmark::State& state) {
  Chain chain;
  for (auto _ : state) {
    if constexpr (kTape) chain.tape_pass();
    else chain.kernels_pass();
  }
  set_time_per_op(state, kChain);
}

// BM_TapeOverheadPaired/<op>: the tape's overhead per op from one chain through the tape and one by hand, timed
// back to back (paired_timing.hpp); counters: the median over pairs of the difference per op (overhead_ns),
// each side's median per op (tape_ns, kernels_ns), and the number of pairs. The separate rows above run
// seconds apart, and on a shared core their medians can differ by more than the overhead itself in either
// direction (a run here measured the matmul chain's hand calls 16 ns per op slower than the tape's); the two
// halves of a pair, each 30-250 us, see the same conditions.
template <class Chain>
void BM_TapeOverheadPaired(benchmark::State& state) {
  Chain chain;
  chain.tape_pass();  // warm-up: the tape's arena grows to its size, the buffers are touched
  chain.kernels_pass();
  const PairedTimes t = time_in_pairs(state, [&] { chain.tape_pass(); }, [&] { chain.kernels_pass(); }, 1);
  std::vector<double> overhead(t.first.size());
  for (std::size_t i = 0; i < overhead.size(); ++i) overhead[i] = t.first[i] - t.second[i];
  state.counters["overhead_ns"] = median(overhead) / kChain * 1e9;
  state.counters["tape_ns"] = median(t.first) / kChain * 1e9;
  state.counters["kernels_ns"] = median(t.second) / kChain * 1e9;
  state.counters["pairs"] = double(overhead.size());
}

// ---- training step
// ------------------------------------------------------------------------------------------

template <class T>
class TrainStepModel {
 public:
  TrainStepModel(long d, long L)
      : L_(L),
        A_(Tensor<T>::uniform(d, kTrainDio, 1, T(-1) / T(std::sqrt(double(kTrainDio))),
                              T(1) / T(std::sqrt(double(kTrainDio))))),
        C_(Tensor<T>::uniform(kTrainDio, d, 2, T(-1) / T(std::sqrt(double(d))),
                              T(1) / T(std::sqrt(double(d))))),
        x_(Tensor<T>::uniform(kTrainDio, kTrainBatch, 3)),
        y_(Tensor<T>::uniform(kTrainDio, kTrainBatch, 4)) {
    const T s = T(1) / T(std::sqrt(double(d)));
    for (long k = 0; k < L; ++k) {
      W_.emplace_back(Tensor<T>::uniform(d, d, 10 + std::uint64_t(k), -s, s));
      V_.emplace_back(Tensor<T>::uniform(d, d, 1000000 + std::uint64_t(k), -s, s));
      b_.emplace_back(Tensor<T>::uniform(d, 1, 2000000 + std::uint64_t(k), -s, s));
    }
    params_ = {&A_, &C_};
    for (long k = 0; k < L; ++k)
      params_.insert(params_.end(), {&W_[std::size_t(k)], &V_[std::size_t(k)], &b_[std::size_t(k)]});
  }

  // mode 0: fused residual_step; 1: fused with recompute; 2: the unfused reference composition.
  T step(int mode) {
    tape_.clear();
    Var<T> h = matmul(tape_.param(A_), tape_.constant(x_));
    for (long k = 0; k < L_; ++k) {
      const std::size_t i = std::size_t(k);
      const ResidualStep<T> s{.W = tape_.param(W_[i]),
                              .V = tape_.param(V_[i]),
                              .b = tape_.param(b_[i]),
                              .alpha = T(1) / T(L_),
                              .act = Activation::tanh,
                              .recompute = mode == 1};
      h = mode == 2 ? residual_step_reference(h, s) : residual_step(h, s);
    }
    const Var<T> loss = mse(matmul(tape_.param(C_), h), tape_.constant(y_));
    tape_.backward(loss);
    for (Parameter<T>* p : params_) {  // plain SGD, then zero the gradients for the next step
      kernels::axpy(p->rows(), p->cols(), T(-kTrainLearningRate), p->grad.data(), p->grad.ld(),
                    p->value.data(), p->value.ld());
      p->zero_grad();
    }
    return loss.item();
  }

 private:
  long L_;
  Parameter<T> A_, C_;
  std::vector<Parameter<T>> W_, V_, b_;
  Tensor<T> x_, y_;
  std::vector<Parameter<T>*> params_;
  Tape<T> tape_;
};

template <class T>
void BM_TrainStepTapelab(benchmark::State& state, long d, long L, int mode, int threads) {
  kernels::set_num_threads(threads);
  kernels::set_op_threads(threads);
  TrainStepModel<T> model(d, L);
  model.step(mode);  // warm-up: the arena reaches its size
  for (auto _ : state) benchmark::DoNotOptimize(model.step(mode));
  state.counters["GFLOPS"] =
      benchmark::Counter(train_step_flops(d, L) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  kernels::set_num_threads(1);
  kernels::set_op_threads(1);
}

// ---- P4 training step (experiment X6)
// ------------------------------------------------------------------------------------------

void BM_P4StepTapelab(benchmark::State& state, long L, int threads) {
  kernels::set_num_threads(threads);
  kernels::set_op_threads(threads);
  constexpr index_t q = kP4Width, m = kP4Hidden, n = kP4Samples;
  constexpr double eta0 = kP4LearningRatePerLayer;
  nn::Rng rng(1);
  const nn::Dataset data = nn::p4_gaussian_data(rng, n, q, q);
  nn::ResidualNetworkConfig cfg =
      nn::ResidualNetworkConfig::p4(q, q, m, q, std::size_t(L), Activation::gelu_erf);
  cfg.recompute = true;  // as X6 sets it
  cfg.keep_last_bytes = kernels::last_level_cache_bytes() / std::size_t(threads);
  nn::ResidualNetwork net(cfg, rng);
  nn::ParamGroup residual{{}, double(L) * eta0};
  for (nn::Param* p : net.parameters())
    if (p->requires_grad) residual.params.push_back(p);  // every W_k, V_k; the embeddings are frozen
  nn::GradientDescent gd({residual});
  nn::DataParallelStep step(net);
  auto part_loss = [&](Tape<double>& tp, ColumnRange c) {
    return nn::mean_squared_norm_loss(net.forward(tp, data.x.col_range(c.begin, c.end)),
                                      tp.constant(data.y.col_range(c.begin, c.end)), n);
  };
  long long iteration = 0;
  step.step(iteration++, gd, n, part_loss, threads);  // warm-up: the arenas reach their size
  for (auto _ : state) benchmark::DoNotOptimize(step.step(iteration++, gd, n, part_loss, threads));
  state.counters["GFLOPS"] =
      benchmark::Counter(p4_step_flops(L) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  kernels::set_num_threads(1);
  kernels::set_op_threads(1);
}

// ---- the same iteration's kernel calls alone, caches hot (what BM_P4Step would take at no memory cost)
// ------------------------------------------------------------------------------------------

// Each batch half on its own thread, as BM_P4Step/tapelab-2t runs them, makes for each of the L layers the
// kernel calls residual_step makes when it keeps its activations (autodiff/ops/residual_step.cpp): forward
// Z = W h / sqrt(q), A = σ(Z) with D = σ'(Z) in one pass, out = h + alpha V A; backward dA = alpha V^T G,
// dZ = dA ⊙ D, dV = alpha G A^T, dW = dZ h^T / sqrt(q), dh = G + W^T dZ / sqrt(q). Every layer reuses the
// same few kilobytes, so they never leave L1/L2: no tape, no memory traffic, no recomputation, no optimizer
// sweep. The time is what the iteration's arithmetic costs with these kernels, a floor under BM_P4Step on
// this machine (scripts/bench_table.py prints it beside the 10 ms bar of issue 5).
void BM_P4KernelsOnly(benchmark::State& state, long L, int threads) {
  constexpr index_t q = kP4Width, m = kP4Hidden, B = kP4Samples;
  const double gamma = 1.0 / std::sqrt(double(q)), alpha = 1.0 / (double(L) * std::sqrt(double(m)));
  const Tensor<double> W = Tensor<double>::uniform(m, q, 1), V = Tensor<double>::uniform(q, m, 2);
  const Tensor<double> h = Tensor<double>::uniform(q, B, 3), G = Tensor<double>::uniform(q, B, 4);
  Tensor<double> out(q, B), dh(q, B);
  struct Part {
    Tensor<double> Z, A, D, dA, dZ, dW, dV;
  };
  std::vector<Part> parts;
  for (int p = 0; p < batch_parts(B); ++p) {
    const index_t nb = batch_part(B, batch_parts(B), p).size();
    parts.push_back({Tensor<double>(m, nb), Tensor<double>(m, nb), Tensor<double>(m, nb), Tensor<double>(m, nb),
                     Tensor<double>(m, nb), Tensor<double>(m, q), Tensor<double>(q, m)});
  }
  auto run_part = [&](int p) {
    const ColumnRange c = batch_part(B, int(parts.size()), p);
    const index_t nb = c.size();
    Part& s = parts[std::size_t(p)];
    const double* h_p = h.data() + c.begin;
    const double* G_p = G.data() + c.begin;
    kernels::GemmEpilogue<double> plus_h;
    plus_h.c_in = h_p;
    plus_h.ld_c_in = B;
    for (long k = 0; k < L; ++k) {
      kernels::gemm(Trans::N, Trans::N, m, nb, q, gamma, W.data(), q, h_p, B, 0.0, s.Z.data(), nb);
      kernels::activation_forward_with_derivative(Activation::gelu_erf, m, nb, s.Z.data(), nb, s.A.data(), nb,
                                                  s.D.data(), nb);
      kernels::gemm(Trans::N, Trans::N, q, nb, m, alpha, V.data(), m, s.A.data(), nb, 1.0,
                    out.data() + c.begin, B, &plus_h);
    }
    for (long k = 0; k < L; ++k) {
      kernels::gemm(Trans::T, Trans::N, m, nb, q, alpha, V.data(), m, G_p, B, 0.0, s.dA.data(), nb);
      kernels::hadamard(m, nb, s.dA.data(), nb, s.D.data(), nb, s.dZ.data(), nb);
      kernels::gemm(Trans::N, Trans::T, q, m, nb, alpha, G_p, B, s.A.data(), nb, 0.0, s.dV.data(), m);
      kernels::gemm(Trans::N, Trans::T, m, q, nb, gamma, s.dZ.data(), nb, h_p, B, 0.0, s.dW.data(), q);
      kernels::gemm(Trans::T, Trans::N, q, nb, m, gamma, W.data(), q, s.dZ.data(), nb, 0.0,
                    dh.data() + c.begin, B);
    }
  };
  for (auto _ : state) {
    if (threads > 1) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
      for (int p = 0; p < int(parts.size()); ++p) run_part(p);
    } else {
      for (int p = 0; p < int(parts.size()); ++p) run_part(p);
    }
    benchmark::DoNotOptimize(dh.data());
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(p4_step_flops(L) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- the machine's GEMM rate, for the training steps' floors
// ------------------------------------------------------------------------------------------

template <class T>
void BM_GemmRate(benchmark::State& state) {
  constexpr index_t n = 1024;
  kernels::set_num_threads(1);
  const Tensor<T> a = Tensor<T>::uniform(n, n, 1), b = Tensor<T>::uniform(n, n, 2);
  Tensor<T> c(n, n);
  for (auto _ : state) {
    kernels::gemm(Trans::N, Trans::N, n, n, n, T(1), a.data(), a.ld(), b.data(), b.ld(), T(0), c.data(),
                  c.ld());
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  benchmark::RegisterBenchmark("BM_GemmRate/gemm1024/f32", BM_GemmRate<float>)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_GemmRate/gemm1024/f64", BM_GemmRate<double>)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_TapeOverhead/matmul8x8/tape", BM_Chain<MatmulChain, true>);
  benchmark::RegisterBenchmark("BM_TapeOverhead/matmul8x8/kernels", BM_Chain<MatmulChain, false>);
  benchmark::RegisterBenchmark("BM_TapeOverhead/hadamard8x8/tape", BM_Chain<HadamardChain, true>);
  benchmark::RegisterBenchmark("BM_TapeOverhead/hadamard8x8/kernels", BM_Chain<HadamardChain, false>);
  benchmark::RegisterBenchmark("BM_TapeOverheadPaired/matmul8x8", BM_TapeOverheadPaired<MatmulChain>);
  benchmark::RegisterBenchmark("BM_TapeOverheadPaired/hadamard8x8", BM_TapeOverheadPaired<HadamardChain>);
#ifdef TAPELAB_HAVE_LIBTORCH
  register_libtorch_overhead();
#endif
  // tapelab-2t rows: two threads (the batch halves of residual_step run side by side; same bits as one
  // thread), timed in wall-clock time. First X6's kernel calls alone, then its iteration.
  for (int threads : {1, 2}) {
    auto* b = benchmark::RegisterBenchmark(
        (std::string("BM_P4KernelsOnly/") + (threads == 1 ? "tapelab" : "tapelab-2t") + "/f64/1024").c_str(),
        BM_P4KernelsOnly, 1024L, threads);
    b->Unit(benchmark::kMillisecond);
    if (threads > 1) b->UseRealTime();
  }
  for (long L : {128L, 1024L})
    for (int threads : {1, 2}) {
      const std::string name =
          std::string("BM_P4Step/") + (threads == 1 ? "tapelab" : "tapelab-2t") + "/f64/" + std::to_string(L);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_P4StepTapelab, L, threads);
      b->Unit(benchmark::kMillisecond);
      if (threads > 1) b->UseRealTime();
#ifdef TAPELAB_HAVE_LIBTORCH
      // The same iteration in libtorch, in float (as the authors' code runs it) and double, one thread.
      if (threads == 1)
        for (bool f64 : {false, true}) register_libtorch_p4_step(f64, L);
#endif
    }
  for (bool f64 : {false, true})
    for (long d : {16L, 64L})
      for (long L : {16L, 128L, 1024L}) {
        const std::string suffix =
            std::string(f64 ? "f64" : "f32") + "/" + std::to_string(d) + "/" + std::to_string(L);
        for (int mode : {0, 1, 2, 3}) {
          if (mode != 0 && !(f64 && L == 1024) && !(mode == 3 && L == 1024))
            continue;  // variants where bars are set
          static const char* const kImpl[] = {"tapelab/", "tapelab-recompute/", "tapelab-unfused/",
                                              "tapelab-2t/"};
          const std::string name = std::string("BM_TrainStep/") + kImpl[mode] + suffix;
          const int threads = mode == 3 ? 2 : 1, model_mode = mode == 3 ? 0 : mode;
          auto* b = f64 ? benchmark::RegisterBenchmark(name.c_str(), BM_TrainStepTapelab<double>, d, L,
                                                       model_mode, threads)
                        : benchmark::RegisterBenchmark(name.c_str(), BM_TrainStepTapelab<float>, d, L,
                                                       model_mode, threads);
          b->Unit(benchmark::kMillisecond);
          if (threads > 1) b->UseRealTime();
        }
#ifdef TAPELAB_HAVE_LIBTORCH
        register_libtorch_train_step(f64, d, L);
#endif
      }
}

}  // namespace
}  // namespace tapelab::bench

int main(int argc, char** argv) {
  tapelab::kernels::set_num_threads(1);
  tapelab::kernels::set_op_threads(1);
#ifndef TAPELAB_HAVE_LIBTORCH
  std::fprintf(
      stderr,
      "bench_autodiff: built without libtorch (not found at configure time, or TAPELAB_BENCH_LIBTORCH=OFF); "
      "the BM_TrainStep/libtorch rows are skipped\n");
#endif
  tapelab::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("tapelab_target",
                              std::string(tapelab::kernels::target_name(tapelab::kernels::active_target())));
#ifdef TAPELAB_HAVE_LIBTORCH
  benchmark::AddCustomContext("libtorch", "linked");
  // libtorch's GEMMs are OpenBLAS's: which kernels it ran (scripts/bench.sh sets SkylakeX on AVX-512 CPUs).
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  benchmark::AddCustomContext("openblas_coretype", coretype != nullptr ? coretype : "(auto)");
#else
  benchmark::AddCustomContext("libtorch", "not found at configure time");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
