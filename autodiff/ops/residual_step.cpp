#include "autodiff/ops/residual_step.hpp"

#include <algorithm>

#include "autodiff/batch_parts.hpp"
#include "autodiff/ops/activation.hpp"
#include "autodiff/ops/elementwise.hpp"
#include "autodiff/ops/matmul.hpp"
#include "autodiff/ops/op_support.hpp"
#include "kernels/activations.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gemm.hpp"
#include "kernels/reductions.hpp"

namespace tapelab {

namespace {

// Asks for every cache line of rows x cols values, rows ld apart (for writing when kWrite).
template <bool kWrite = false, class T>
void prefetch_rows(const T* p, index_t rows, index_t cols, index_t ld) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t off = 0; off < cols * index_t(sizeof(T)); off += 64)
      __builtin_prefetch(reinterpret_cast<const char*>(p + i * ld) + off, kWrite ? 1 : 0);
}

enum Input { kH = 0, kW = 1, kV = 2, kB = 3 };

// What a step that does not recompute keeps for backward (residual_step, residual_step_kept_values):
// D = act'(Z) when act' needs Z; A = act(Z) when act' is read off A, or V needs A for dV.
bool keeps_derivative(kernels::Activation act) { return !kernels::derivative_from_output(act); }
bool keeps_activation(kernels::Activation act, bool has_v) {
  return has_v || kernels::derivative_from_output(act);
}

// Validates the shapes; returns m (the hidden width).
template <class T>
index_t check_residual_shapes(Tape<T>& tape, const Var<T>& h, const ResidualStep<T>& s) {
  const char* name = "residual_step";
  const Slot<T> sh = tape.slot(h), sw = tape.slot(s.W);
  const index_t d = sh.rows, m = sw.rows;
  if (sw.cols != d)
    throw_shape_error(name, "W", sw.rows, sw.cols, "h", sh.rows, sh.cols,
                      "inner dimensions of W h: " + std::to_string(sw.cols) + " != " + std::to_string(d));
  if (!s.V.empty()) {
    const Slot<T> sv = tape.slot(s.V);
    if (sv.rows != d || sv.cols != m)
      throw_shape_error(
          name, "V", sv.rows, sv.cols, "W", sw.rows, sw.cols,
          "V must be " + shape_string(d, m) + " to map act(W h) back to h's " + std::to_string(d) + " rows");
  } else if (m != d) {
    throw_shape_error(name, "W", sw.rows, sw.cols, "h", sh.rows, sh.cols,
                      "without V (V = identity) W must be square so that W h has h's shape");
  }
  if (!s.b.empty()) {
    const Slot<T> sb = tape.slot(s.b);
    if (sb.rows != m || sb.cols != 1 || (sb.ld != 1 && sb.rows > 1))
      throw_shape_error(name, "b", sb.rows, sb.cols, "W", sw.rows, sw.cols,
                        "b must be a contiguous " + shape_string(m, 1) + " column, one entry per row of W");
  }
  return m;
}

// The columns [c.begin, c.end) of one batch part, as the kernels see them. h and the output are column views
// of the whole batch (leading dimension B); what the op keeps for backward (A, D) and its scratch (dA, dZ) are
// stored part after part, each part a dense m x size block, so a part's buffers are contiguous and never share
// a cache line with another part's (each part starts a multiple of m columns in, m a multiple of 8 here).
template <class T>
struct PartBuffers {
  ColumnRange c;
  index_t m;
  T* at(T* whole) const { return whole == nullptr ? nullptr : whole + m * c.begin; }
  const T* at(const T* whole) const { return whole == nullptr ? nullptr : whole + m * c.begin; }
};

// Z = gamma W h + b (m x n, dense, into z).
template <class T>
void pre_activation(const Slot<T>& W, const T* h, index_t ldh, index_t n, const T* bias, T gamma, T* z) {
  kernels::GemmEpilogue<T> ep;
  if (bias != nullptr) {
    ep.bias = bias;
    ep.bias_mode = kernels::Bias::per_row;
  }
  kernels::gemm(Trans::N, Trans::N, W.rows, n, W.cols, gamma, W.value, W.ld, h, ldh, T(0), z, n, &ep);
}

// A = act(Z) and, if d != nullptr, D = act'(Z) for Z = gamma W h + b (m x n, dense): the GEMM writes Z to z
// (scratch, in cache), then one pass evaluates act and act' together (gelu_erf: one exp for both). A and D are
// usually fresh memory bound for DRAM: written from the compute-bound activation pass, their stores overlap the
// arithmetic (measured: 1.8 us per P4 layer saved against writing A from the GEMM, whose stores stall).
// If y is given (rows_y x n, leading dimension ldy: the output the next GEMM writes, also fresh memory), its lines
// are asked for, for writing, one slice at a time between slices of the activation pass, so that they arrive
// while the pass computes rather than stall the GEMM's stores (measured: 0.9 us per P4 layer at L = 1024; 8
// slices beat 1, 4 and 16).
template <class T>
void forward_pre_activation(const Slot<T>& W, const T* h, index_t ldh, index_t n, const T* bias,
                            kernels::Activation act, T gamma, T* z, T* d, T* a, const T* y = nullptr,
                            index_t rows_y = 0, index_t ldy = 0) {
  const index_t m = W.rows;
  pre_activation(W, h, ldh, n, bias, gamma, z);
  const int slices = y == nullptr ? 1 : int(std::min<index_t>(8, m));
  for (int c = 0; c < slices; ++c) {
    const index_t y0 = rows_y * c / slices, y1 = rows_y * (c + 1) / slices;
    if (y != nullptr) prefetch_rows</*kWrite=*/true>(y + y0 * ldy, y1 - y0, n, ldy);
    const index_t r0 = m * c / slices, r1 = m * (c + 1) / slices;
    if (d != nullptr)
      kernels::activation_forward_with_derivative(act, r1 - r0, n, z + r0 * n, n, a + r0 * n, n, d + r0 * n, n);
    else
      kernels::activation_forward(act, r1 - r0, n, z + r0 * n, n, a + r0 * n, n);
  }
}

// Backward reads what forward kept for each layer (A, D and the layer's input h: 64 KB per P4 layer), and by
// then it has long left the caches. The hardware prefetchers do not guess the jump from one layer's buffers to the
// previous layer's, so each part asks for the lines the layer below will read (the producer of h, next in the
// backward sweep of a residual chain) while it computes, in slices between its kernels: a single burst at the
// start stalls on the miss buffers. Into L2 (prefetcht2): into L1 the lines evicted this layer's working set.
// Measured on P4 (L = 1024, B = 100): backward 18.9 -> 16.9 us per layer on one thread, 12.4 -> 10.7 on two.
class PrefetchPlan {
 public:
  // The lines of `rows` runs of `bytes` bytes, `stride` bytes apart.
  void add(const void* p, std::size_t bytes, std::size_t stride, index_t rows) {
    if (p == nullptr || n_ == kMaxRuns) return;
    runs_[n_++] = {static_cast<const char*>(p), bytes, stride, rows};
    total_ += std::size_t(rows) * ((bytes + 63) / 64);
  }
  // Issues the lines up to fraction num/den of the total (the next slice), resuming where the last one stopped.
  // A tight loop per row of a run: a step of the (run, row, offset) bookkeeping per line cost more than the
  // prefetch itself (measured: 6% of a d = 16 training step, most of it here).
  void issue(int num, int den) {
    const std::size_t until = total_ * std::size_t(num) / std::size_t(den);
    while (issued_ < until && run_ < n_) {
      const Run& r = runs_[run_];
      const char* line = r.p + std::size_t(row_) * r.stride + offset_;
      const std::size_t take = std::min((r.bytes - offset_ + 63) / 64, until - issued_);
      for (std::size_t i = 0; i < take; ++i) __builtin_prefetch(line + 64 * i, 0, 1);
      issued_ += take;
      offset_ += 64 * take;
      if (offset_ >= r.bytes) {
        offset_ = 0;
        if (++row_ == r.rows) {
          row_ = 0;
          ++run_;
        }
      }
    }
  }

 private:
  struct Run {
    const char* p;
    std::size_t bytes, stride;
    index_t rows;
  };
  static constexpr int kMaxRuns = 8;
  Run runs_[kMaxRuns] = {};
  int n_ = 0, run_ = 0;
  index_t row_ = 0;
  std::size_t offset_ = 0, total_ = 0, issued_ = 0;
};

// What part `c` of the residual_step node that produced slot `h_slot` (if it is one) reads in its backward.
template <class T>
PrefetchPlan plan_layer_below(const Tape<T>& tape, std::uint32_t h_slot, ColumnRange c) {
  PrefetchPlan plan;
  const std::uint32_t producer = tape.slot(h_slot).producer;
  if (producer == kNoSlot) return plan;
  const Node<T>& below = tape.nodes()[producer];
  if (below.kind != OpKind::residual_step) return plan;
  const Slot<T>& h = tape.slot(below.in[kH]);
  if (h.cols != tape.slot(h_slot).cols) return plan;  // another batch: other parts
  const index_t m = tape.slot(below.in[kW]).rows;
  const std::size_t block = std::size_t(m * c.size()) * sizeof(T);
  for (const T* saved : below.saved) plan.add(saved == nullptr ? nullptr : saved + m * c.begin, block, 0, 1);
  plan.add(h.value + c.begin, std::size_t(c.size()) * sizeof(T), std::size_t(h.ld) * sizeof(T), h.rows);
  // Its weights (read by its GEMMs) and, for part 0, the gradients it accumulates into: parameters are small
  // separate allocations, long evicted by the tape's traffic (measured: 0.8 us per P4 layer).
  for (int i : {int(kW), int(kV)}) {
    if (below.in[i] == kNoSlot) continue;
    const Slot<T>& w = tape.slot(below.in[i]);
    plan.add(w.value, std::size_t(w.cols) * sizeof(T), std::size_t(w.ld) * sizeof(T), w.rows);
    if (c.begin == 0 && w.grad != nullptr) plan.add(w.grad, std::size_t(w.rows * w.cols) * sizeof(T), 0, 1);
  }
  return plan;
}

template <class T>
void residual_step_backward(Tape<T>& tape, const Node<T>& n) {
  const kernels::Activation act = residual_activation(n.variant);
  const Slot<T> h = tape.slot(n.in[kH]), W = tape.slot(n.in[kW]);
  const index_t d = h.rows, B = h.cols, m = W.rows;
  const T alpha = n.scalar, gamma = n.scalar2;
  const bool has_v = residual_has_v(n.variant);
  const T* bias = n.in[kB] != kNoSlot ? tape.slot(n.in[kB]).value : nullptr;
  // What forward kept (see residual_step): A = act(Z) when act' can be read off A (tanh, sigmoid, relu,
  // identity) or V needs it for dV; D = act'(Z) otherwise. Nothing in recompute mode: recomputed below, part by
  // part, bitwise as forward computed them.
  const bool from_output = kernels::derivative_from_output(act);
  const T* D = n.saved[0];           // m x B act'(Z), by parts
  const T* A = n.saved[1];           // m x B act(Z), by parts
  const T* G = tape.output_grad(n);  // d x B
  const bool recompute = from_output ? A == nullptr : D == nullptr;
  // Recomputing an act' that needs Z: one pass gives A and dZ = dA ⊙ act'(Z) once dA is known (no D buffer).
  const bool fused = recompute && !from_output;
  T* A_new = recompute ? tape.scratch(std::size_t(m * B)) : nullptr;
  T* Z_new = recompute ? tape.scratch(std::size_t(m * B)) : nullptr;

  // dA = alpha V^T G (m x B); without V, dA = alpha G and alpha moves into the GEMMs below (scale c).
  const T c = has_v ? T(1) : alpha;
  const bool want_v = has_v && tape.wants_grad(n.in[kV]), want_b = tape.wants_grad(n.in[kB]),
             want_w = tape.wants_grad(n.in[kW]), want_h = tape.wants_grad(n.in[kH]);
  if (!(want_v || want_b || want_w || want_h)) return;
  const Slot<T> V = has_v ? tape.slot(n.in[kV]) : Slot<T>{};

  // Everything the parts write is allocated here, on the calling thread (the tape is not thread-safe): the
  // gradient targets (part 0 accumulates into them with the tape's beta), one private sum per later part for
  // each parameter gradient (added in part order afterwards), and dh, which takes over G's buffer when it can:
  // each part reads its columns of G before it writes the same columns of dh.
  const int parts = batch_parts(B);
  typename Tape<T>::GradTarget dV{}, dW{}, db{};
  if (want_v) dV = tape.grad_target(n.in[kV]);
  if (want_w) dW = tape.grad_target(n.in[kW]);
  const bool db_direct = want_b && c == T(1);  // else row sums are scaled by c on the way in (add_scaled)
  if (db_direct) db = tape.grad_target(n.in[kB]);
  T* part_sums = tape.scratch(std::size_t(parts) * std::size_t(d * m + m * d + m));
  T* dA_all = has_v ? tape.scratch(std::size_t(m * B)) : nullptr;
  T* dZ_all = tape.scratch(std::size_t(m * B));
  T* dh = nullptr;
  if (want_h) {
    tape.add_output_grad(n.in[kH], n, /*last_use=*/true);
    dh = tape.slot(n.in[kH]).grad;
  }

  // Work: the GEMMs below (V^T G, dV, dW, dh, and W h again when recomputing), 2 d m B flops each, as double
  // flops (a float one takes half the time).
  const double gemm_flops = 2.0 * double(d) * double(m) * double(B) * double(sizeof(T)) / 8.0;
  const double flops =
      gemm_flops * double(int(has_v) + int(want_v) + int(want_w) + int(want_h) + int(recompute));
  run_batch_parts(parts, flops, [&](int p) {
    const PartBuffers<T> part{batch_part(B, parts, p), m};
    const index_t nb = part.c.size(), b0 = part.c.begin;
    PrefetchPlan below = plan_layer_below(tape, n.in[kH], part.c);
    const T* h_p = h.value + b0;
    const T* G_p = G + b0;  // ld B
    T* sums = part_sums + std::size_t(p) * std::size_t(d * m + m * d + m);
    const bool want_dz = want_b || want_w || want_h;
    T* A_new_p = part.at(A_new);  // (nullptr unless recomputing)
    const T* A_p = recompute ? A_new_p : part.at(A);
    if (fused)
      pre_activation(W, h_p, h.ld, nb, bias, gamma, part.at(Z_new));
    else if (recompute)
      forward_pre_activation(W, h_p, h.ld, nb, bias, act, gamma, part.at(Z_new), static_cast<T*>(nullptr),
                             A_new_p);
    // dA_p (m x nb) and its leading dimension
    const T* dA_p = G_p;
    index_t ld_dA = B;
    if (has_v) {
      below.issue(1, 5);
      kernels::gemm(Trans::T, Trans::N, m, nb, d, alpha, V.value, V.ld, G_p, B, T(0), part.at(dA_all), nb);
      dA_p = part.at(dA_all);
      ld_dA = nb;
    }
    // dZ = dA ⊙ act'(Z)   (m x nb; the true dZ is c times this)
    T* dZ_p = want_dz ? part.at(dZ_all) : nullptr;
    if (fused) {  // A and dZ from Z in one pass (A alone if only dV is wanted)
      below.issue(2, 5);
      if (want_dz)
        kernels::activation_forward_backward(act, m, nb, part.at(Z_new), nb, dA_p, ld_dA, A_new_p, nb, dZ_p,
                                             nb);
      else
        kernels::activation_forward(act, m, nb, part.at(Z_new), nb, A_new_p, nb);
    }
    if (has_v && want_v) {  // dV (d x m) += alpha G A^T
      below.issue(fused ? 3 : 2, 5);
      T* target = p == 0 ? dV.data : sums;
      kernels::gemm(Trans::N, Trans::T, d, m, nb, alpha, G_p, B, A_p, nb, p == 0 ? dV.beta : T(0), target, m);
    }
    if (!want_dz) return;
    if (!fused) {  // no transcendental function here: act' read off A, or kept by forward as D
      below.issue(3, 5);
      if (from_output)
        kernels::activation_backward_from_output(act, m, nb, A_p, nb, dA_p, ld_dA, T(0), dZ_p, nb);
      else
        kernels::hadamard(m, nb, dA_p, ld_dA, part.at(D), nb, dZ_p, nb);
    }
    if (want_b) {  // db (m x 1) += c row_sums(dZ)
      const bool into_target = db_direct && p == 0;
      kernels::row_sums(m, nb, dZ_p, nb, into_target ? db.beta : T(0), into_target ? db.data : sums + 2 * d * m);
    }
    below.issue(4, 5);
    if (want_w) {  // dW (m x d) += c gamma dZ h^T
      T* target = p == 0 ? dW.data : sums + d * m;
      kernels::gemm(Trans::N, Trans::T, m, d, nb, c * gamma, dZ_p, nb, h_p, h.ld, p == 0 ? dW.beta : T(0), target, d);
    }
    below.issue(5, 5);
    if (want_h)  // dh (d x B) += G + c gamma W^T dZ, G already in dh
      kernels::gemm(Trans::T, Trans::N, d, nb, m, c * gamma, W.value, W.ld, dZ_p, nb, T(1), dh + b0, B);
  });

  // The later parts' sums, in part order.
  for (int p = 1; p < parts; ++p) {
    const T* sums = part_sums + std::size_t(p) * std::size_t(d * m + m * d + m);
    if (want_v) kernels::axpy(d, m, T(1), sums, m, dV.data, m);
    if (want_w) kernels::axpy(m, d, T(1), sums + d * m, d, dW.data, d);
    if (db_direct) kernels::axpy(m, index_t(1), T(1), sums + 2 * d * m, 1, db.data, 1);
  }
  if (want_b && !db_direct) {
    T* total = part_sums + 2 * d * m;  // part 0's row sums, then the others added in order
    for (int p = 1; p < parts; ++p)
      kernels::axpy(m, index_t(1), T(1), part_sums + std::size_t(p) * std::size_t(d * m + m * d + m) + 2 * d * m, 1,
                    total, 1);
    tape.add_scaled(n.in[kB], c, total, 1);
  }
}

}  // namespace

template <class T>
Var<T> residual_step(const Var<T>& h, const ResidualStep<T>& s) {
  using ops_detail::Named;
  const char* name = "residual_step";
  Tape<T>& tape = ops_detail::common_tape(name, "h", h, Named<T>{"W", s.W});
  if (!s.V.empty()) tape.check_arg(name, "V", s.V);
  if (!s.b.empty()) tape.check_arg(name, "b", s.b);
  const index_t m = check_residual_shapes(tape, h, s);
  const Slot<T> sh = tape.slot(h);
  const index_t d = sh.rows, B = sh.cols;
  const bool has_v = !s.V.empty(), has_b = !s.b.empty();
  const std::uint8_t variant = residual_variant(s.act, has_v, has_b);
  const bool record = tape.should_record({h, s.W, s.V, s.b});

  // Z = gamma W h + b and A = act(Z). Kept for backward when recording, unless recomputing: A when act' can be read
  // off it (tanh: 1 - A², sigmoid, relu, identity: no second exp in backward) or V needs it for dV; and
  // D = act'(Z) when act' needs the input (gelu, softplus), computed by the forward epilogue together with A,
  // so backward multiplies by D instead of evaluating act' (Z itself is never needed). Both by batch parts.
  const bool keep = record && !s.recompute;
  const bool keep_d = keep && keeps_derivative(s.act), keep_a = keep && keeps_activation(s.act, has_v);
  T* D = keep_d ? tape.saved_buffer(std::size_t(m * B)) : nullptr;
  T* A = keep_a ? tape.saved_buffer(std::size_t(m * B)) : tape.scratch(std::size_t(m * B));
  Var<T> out = tape.new_output(d, B);
  T* y = tape.slot(out).value;
  const Slot<T> sw = tape.slot(s.W);
  const T* bias = has_b ? tape.slot(s.b).value : nullptr;
  const Slot<T> sv = has_v ? tape.slot(s.V) : Slot<T>{};
  T* Z = tape.scratch(std::size_t(m * B));

  // The weights: small separate allocations that the previous step's traffic has evicted. Asking for all their
  // lines at once has the misses served side by side instead of one by one as the GEMM meets them.
  prefetch_rows(sw.value, sw.rows, sw.cols, sw.ld);
  if (has_v) prefetch_rows(sv.value, sv.rows, sv.cols, sv.ld);
  const int parts = batch_parts(B);
  // W h and V A, as double flops (as in backward)
  const double flops = 2.0 * double(d) * double(m) * double(B) * (has_v ? 2.0 : 1.0) * double(sizeof(T)) / 8.0;
  run_batch_parts(parts, flops, [&](int p) {
    const PartBuffers<T> part{batch_part(B, parts, p), m};
    const index_t nb = part.c.size(), b0 = part.c.begin;
    T* A_p = part.at(A);
    forward_pre_activation(sw, sh.value + b0, sh.ld, nb, bias, s.act, s.gamma, part.at(Z), part.at(D), A_p,
                           static_cast<const T*>(y + b0), d, B);
    // out = h + alpha V A   (or h + alpha A); the GEMM reads h where it lies and writes out (no copy of h first)
    if (has_v) {
      kernels::GemmEpilogue<T> plus_h;
      plus_h.c_in = sh.value + b0;
      plus_h.ld_c_in = sh.ld;
      kernels::gemm(Trans::N, Trans::N, d, nb, m, s.alpha, sv.value, sv.ld, A_p, nb, T(1), y + b0, B, &plus_h);
    } else {
      kernels::copy(d, nb, sh.value + b0, sh.ld, y + b0, B);
      kernels::axpy(d, nb, s.alpha, A_p, nb, y + b0, B);
    }
  });
  if (record) {
    Node<T>& n =
        tape.record(OpKind::residual_step, variant, out, {h, s.W, s.V, s.b}, &residual_step_backward<T>);
    n.scalar = s.alpha;
    n.scalar2 = s.gamma;
    n.saved[0] = D;  // nullptr when recomputing or when act' comes from A
    n.saved[1] = keep_a ? A : nullptr;
  }
  return tape.finish(OpKind::residual_step, variant, out);
}

index_t residual_step_kept_values(kernels::Activation act, bool has_v, index_t m, index_t B) {
  return (int(keeps_derivative(act)) + int(keeps_activation(act, has_v))) * m * B;
}

template <class T>
Var<T> residual_step_reference(const Var<T>& h, const ResidualStep<T>& s) {
  Var<T> z = matmul(s.W, h);
  if (s.gamma != T(1)) z = scale(z, s.gamma);
  if (!s.b.empty()) z = add_bias(z, s.b, Bias::per_row);
  Var<T> a = activation(z, s.act);
  if (!s.V.empty()) a = matmul(s.V, a);
  return add(h, scale(a, s.alpha));
}

#define TAPELAB_INSTANTIATE(T)                                          \
  template Var<T> residual_step(const Var<T>&, const ResidualStep<T>&); \
  template Var<T> residual_step_reference(const Var<T>&, const ResidualStep<T>&);
TAPELAB_INSTANTIATE(float)
TAPELAB_INSTANTIATE(double)
#undef TAPELAB_INSTANTIATE

}  // namespace tapelab
