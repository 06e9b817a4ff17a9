// After the first iteration, a training step makes no heap allocation: this binary replaces the global
// operator new / delete with counting versions and trains small residual networks for a few steps.
// (Its own binary, so the counting operator new affects no other test.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/target.hpp"

namespace {
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t) ? std::malloc(n)
                                               : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace tapelab {
namespace {

using kernels::Activation;

// h_0 = A x, h_{k+1} = h_k + (1/L) V_k act(W_k h_k + b_k), y = C h_L, loss = MSE(y, target), plain SGD.
struct TinyResNet {
  static constexpr index_t d_in = 3, d = 6, d_out = 2, batch = 5, L = 8;
  Parameter<double> A{Tensor<double>::uniform(d, d_in, 1)}, C{Tensor<double>::uniform(d_out, d, 2)};
  std::vector<Parameter<double>> W, V, b;
  Tensor<double> x = Tensor<double>::uniform(d_in, 4 * batch, 3),
                 y = Tensor<double>::uniform(d_out, 4 * batch, 4);
  std::vector<int> labels = std::vector<int>(std::size_t(batch), 1);

  TinyResNet() {
    for (index_t k = 0; k < L; ++k) {
      W.emplace_back(Tensor<double>::uniform(d, d, 10 + std::uint64_t(k)));
      V.emplace_back(Tensor<double>::uniform(d, d, 100 + std::uint64_t(k)));
      b.emplace_back(Tensor<double>::uniform(d, 1, 1000 + std::uint64_t(k)));
    }
  }
  std::vector<Parameter<double>*> parameters() {
    std::vector<Parameter<double>*> ps{&A, &C};
    for (index_t k = 0; k < L; ++k)
      ps.insert(ps.end(), {&W[std::size_t(k)], &V[std::size_t(k)], &b[std::size_t(k)]});
    return ps;
  }

  enum class Impl { fused, fused_recompute, reference };

  // One SGD step on mini-batch `step % 4` (a column-range view). `impl` picks residual_step (saving or
  // recomputing its activations) or its reference composition; `retain` keeps every dl/dh_k.
  double step(Tape<double>& tape, int step, Impl impl, bool retain,
              const std::vector<Parameter<double>*>& ps) {
    tape.clear();
    const index_t j0 = (step % 4) * batch;
    Var<double> h = matmul(tape.param(A), tape.constant(x.col_range(j0, j0 + batch)));
    for (index_t k = 0; k < L; ++k) {
      const std::size_t i = std::size_t(k);
      tape.set_scope("layers", k);  // as nn::ResidualNetwork does, for anomaly reports
      const ResidualStep<double> s{.W = tape.param(W[i]),
                                   .V = tape.param(V[i]),
                                   .b = tape.param(b[i]),
                                   .alpha = 1.0 / L,
                                   .act = Activation::gelu_tanh,
                                   .recompute = impl == Impl::fused_recompute};
      h = impl == Impl::reference ? residual_step_reference(h, s) : residual_step(h, s);
      if (retain) h.retain_grad();
    }
    tape.clear_scope();
    const Var<double> out = matmul(tape.param(C), h);
    const Var<double> loss = add(mse(out, tape.constant(y.col_range(j0, j0 + batch))),
                                 scale(softmax_cross_entropy(out, labels), 0.1));
    tape.backward(loss);
    for (Parameter<double>* p : ps) {
      kernels::axpy(p->rows(), p->cols(), -0.1, p->grad.data(), p->grad.ld(), p->value.data(), p->value.ld());
      p->zero_grad();
    }
    return loss.item();
  }
};

using Impl = TinyResNet::Impl;

void expect_no_allocation_after_first_step(Impl impl, bool retain) {
  kernels::set_num_threads(1);
  TinyResNet net;
  const std::vector<Parameter<double>*> ps = net.parameters();
  Tape<double> tape;
  net.step(tape, 0, impl, retain, ps);  // the first iteration fills the arena and the vectors' capacities
  const std::size_t arena_allocations = tape.arena().heap_allocations();
  const long before = g_allocations.load();
  double first = 0, last = 0;
  for (int s = 1; s <= 8; ++s) {
    const double l = net.step(tape, s, impl, retain, ps);
    if (s == 4) first = l;
    if (s == 8) last = l;
  }
  const long allocations = g_allocations.load() - before;
  EXPECT_EQ(allocations, 0) << "heap allocations in 8 training steps after the first";
  EXPECT_EQ(tape.arena().heap_allocations(), arena_allocations);
  EXPECT_LT(last, first);  // and it trains (same mini-batch at steps 4 and 8)
}

TEST(NoAllocation, FusedTrainingStepAfterTheFirst) {
  expect_no_allocation_after_first_step(Impl::fused, false);
}
TEST(NoAllocation, RecomputingTrainingStepAfterTheFirst) {
  expect_no_allocation_after_first_step(Impl::fused_recompute, false);
}
TEST(NoAllocation, ReferenceCompositionTrainingStepAfterTheFirst) {
  expect_no_allocation_after_first_step(Impl::reference, false);
}
TEST(NoAllocation, TrainingStepRetainingEveryHiddenGradient) {
  expect_no_allocation_after_first_step(Impl::fused, true);
}

TEST(NoAllocation, TheCounterSeesAllocations) {  // the proof above is only as good as the counter
  const long before = g_allocations.load();
  std::vector<int>* v = new std::vector<int>(100);
  delete v;
  EXPECT_GE(g_allocations.load() - before, 2);
}

}  // namespace
}  // namespace tapelab
