#pragma once
// Batch parts: how an op whose columns are independent samples runs on two threads and gives the same bits on
// one (the tape's threading contract, autodiff/tape.hpp).
//
// Such an op (residual_step: column j of its output depends only on column j of h) may cut its B columns into
// batch_parts(B) parts. The cut depends on B alone, never on the thread count. Each part is computed as if it
// were the whole batch; a sum over the batch (a parameter gradient) is formed per part and the part sums are
// added in part order. run_batch_parts runs the parts concurrently, one per thread, when op-level threads are
// switched on (kernels::op_threads() > 1, opt-in: see kernels/target.hpp; the kernels inside a part then run
// single-threaded) and the op has enough work (kernels::op_min_parallel_flops()), and one after the other
// otherwise. Either way every floating-point operation is the same, so the results are bitwise identical for
// any thread count.
//
// Why two parts and not one per thread: the cut must not depend on the thread count, and two halves are what
// the target machines (2 cores per job) can use; with more threads the kernels outside these ops use them.
#include "kernels/common.hpp"
#include "kernels/target.hpp"

namespace tapelab {

using kernels::index_t;

// Below this many columns per part a batch stays whole: waking a second thread costs about a microsecond,
// which a part of a few columns does not repay.
inline constexpr index_t kMinBatchPartColumns = 32;

struct ColumnRange {
  index_t begin, end;
  index_t size() const { return end - begin; }
};

inline int batch_parts(index_t B) { return B >= 2 * kMinBatchPartColumns ? 2 : 1; }

// Columns of part p of `parts`: halves, the second one column larger when B is odd.
inline ColumnRange batch_part(index_t B, int parts, int p) {
  if (parts == 1) return {0, B};
  return p == 0 ? ColumnRange{0, B / 2} : ColumnRange{B / 2, B};
}

// Calls part(p) for p in [0, parts): concurrently when there are parts > 1, more than one op thread and at least
// kernels::op_min_parallel_flops() of work (`flops`, the whole op's). part must not touch the tape (its arenas
// are not thread-safe): allocate everything before.
template <class Part>
void run_batch_parts(int parts, double flops, const Part& part) {
  if (parts > 1 && kernels::op_threads() > 1 && flops >= kernels::op_min_parallel_flops()) {
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) part(p);
  } else {
    for (int p = 0; p < parts; ++p) part(p);
  }
}

}  // namespace tapelab
