#pragma once
// Tape<T>: records tensor ops in order and runs them backwards.
//
// Contract (the invariants every op and every user may rely on):
//  * Slots. Every value the tape knows is a slot: rows x cols, a value pointer with a leading dimension, and
//  a
//    gradient pointer. Leaves (constant, variable, param) point at the caller's memory, which must stay alive
//    and unchanged until backward has run. Op outputs live in the tape's arena and are contiguous.
//  * Nodes. One node per recorded op, in recording order: op kind, input and output slots, saved values, and
//  a
//    plain function pointer for backward. No std::function, no shared_ptr, no per-node heap allocation.
//    An op records a node only if grad mode is on (no NoGradGuard alive) and some input requires grad;
//    otherwise it only computes its value.
//  * Memory. Values, saved values and gradients live in an Arena that clear() rewinds without freeing; the
//    slot and node vectors keep their capacity. After the first training step, a step of the same shape does
//    no heap allocation (tests/autodiff/test_tape.cpp counts operator new to prove it).
//  * Gradients. backward(loss) walks the nodes once, last to first: no recursion, no topological sort (the
//    recording order already is one), so depth is bounded only by memory. A gradient buffer is allocated
//    lazily at its first write (written with beta = 0, never zero-filled then added to) and later
//    contributions are added: gradients of reused inputs accumulate. Gradient buffers are contiguous.
//  * Lifetimes of gradients. Gradients of leaves are kept; parameters accumulate (+=) into Parameter::grad
//    across backward passes until zero_grad(). The gradient of an intermediate slot is dead once its
//    producing node has run backward: its buffer is recycled (or handed on to an input of the same shape)
//    unless retain_grad() was called on it before backward. This keeps the backward of a depth-L chain at
//    O(1) gradient buffers instead of O(L).
//  * One backward per recording. A second backward() before clear() is a UsageError (it would count every
//    gradient twice). clear() starts a new generation; Vars of older generations throw UsageError on use.
//  * Anomaly detection (off by default; on for every new tape when the environment has TAPELAB_ANOMALY=1):
//    every op output and every gradient an op's backward produces is checked for NaN/Inf, and the first op
//    that produced one is named in an AnomalyError, with the scope (layer) it was recorded in, if any.
//  * A tape is used by one thread at a time. The kernels it calls may use OpenMP internally.
//  * Threads never change results: 1 and 2 threads give bitwise identical values and gradients. Kernels split
//    output tiles only (kernels/gemm.hpp). An op whose columns are independent samples (residual_step) may
//    cut its batch into parts and run them on two threads when op threads are switched on
//    (kernels::set_op_threads, opt-in; autodiff/batch_parts.hpp); the cut depends on the batch size alone,
//    and a sum over the batch (a parameter gradient) is formed per part and added in part order, so one
//    thread computes exactly the same numbers, one part after the other. Such an op allocates all its tape
//    memory before its parts start: the arenas are not thread-safe.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autodiff/arena.hpp"
#include "autodiff/errors.hpp"
#include "autodiff/no_grad.hpp"
#include "autodiff/op_kind.hpp"
#include "autodiff/parameter.hpp"
#include "autodiff/tensor.hpp"
#include "autodiff/var.hpp"
#include "kernels/elementwise.hpp"

namespace tapelab {

inline constexpr std::uint32_t kNoSlot = 0xffffffffu;

// TAPELAB_ANOMALY=1 in the environment turns anomaly detection on for every new tape (read once).
bool anomaly_detection_default();

template <class T>
struct Node;
template <class T>
using BackwardFn = void (*)(Tape<T>& tape, const Node<T>& node);

template <class T>
struct Slot {
  enum Flags : std::uint8_t {
    kRequiresGrad = 1,   // a gradient flows to this slot
    kRetainGrad = 2,     // keep the gradient after the producing node ran backward
    kParameter = 4,      // grad points at Parameter::grad, or where redirect_param_grads sends it
    kLeaf = 8,           // constant, variable or parameter: no producing node
    kGradReleased = 16,  // the gradient existed but was recycled (not retained)
    kGradUnwritten = 32  // grad points at a buffer that holds nothing yet: the first write overwrites it
  };
  T* value;
  T* grad;  // nullptr until the first write (contiguous: ld == cols)
  index_t rows;
  index_t cols;
  index_t ld;              // of value
  std::uint32_t producer;  // index of the producing node, or kNoSlot
  std::uint8_t flags;
};

template <class T>
struct Node {
  BackwardFn<T> backward;
  const T* saved[2];  // values kept for backward, in the arena (pre-activations, probabilities, ...)
  const void* aux;    // anything else (labels)
  T scalar;           // a constant of the op (scale factor, residual alpha)
  T scalar2;          // a second constant (residual gamma)
  std::uint32_t out;
  std::uint32_t in[4];  // kNoSlot where absent
  OpKind kind;
  std::uint8_t variant;
};

template <class T>
class Tape {
 public:
  explicit Tape(std::size_t first_arena_block_bytes = std::size_t(1) << 20)
      : values_(first_arena_block_bytes), anomaly_detection_(anomaly_detection_default()) {}
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // ---- leaves -------------------------------------------------------------------------------------------
  // A value that needs no gradient (inputs, targets). No copy: x must outlive the recording.
  Var<T> constant(TensorView<const T> x) { return leaf("constant", x, 0); }
  // A value whose gradient backward computes and keeps (Var::grad()). No copy.
  Var<T> variable(TensorView<const T> x) { return leaf("variable", x, Slot<T>::kRequiresGrad); }
  // A temporary Tensor would be freed at the end of the statement, the recording left reading freed memory:
  // refused when compiling. (Name the tensor, so that it lives as long as the recording.)
  Var<T> constant(const Tensor<T>&& temporary) = delete;
  Var<T> variable(const Tensor<T>&& temporary) = delete;
  // A parameter: backward accumulates into p.grad (or where redirect_param_grads says).
  Var<T> param(Parameter<T>& p);
  // Where param(p) sends p's gradient instead of adding it to p.grad (see redirect_param_grads).
  struct GradRedirect {
    T* to;  // contiguous, p's shape (p.grad.data() itself is allowed)
    // false: backward adds to what `to` holds. true: `to` holds nothing yet, as if zeroed: each recording's
    // backward overwrites it at its first write (beta = 0, no zero-fill sweep beforehand, no read of the old
    // contents) and accumulates after that, and leaves it zero if p had a slot that no gradient reached. A p
    // that param() never saw in the recording is not touched: recorded() tells which.
    bool overwrite = false;
    // Kept by the tape: the generation of the last recording in which param() saw p, and p's first slot in
    // it.
    std::uint32_t generation = 0, slot = 0;
    bool recorded(const Tape& tape) const { return generation == tape.generation_; }
  };
  // Redirections keyed by p.grad.data(). Looked up at every param() call: a deep network's forward pass makes
  // thousands, so the lookup first tries the entry after the last one found (parameters added in the order
  // the forward pass uses them are then found without hashing: measured 3% of an X6 step for a hash lookup).
  class GradRedirects {
   public:
    // Adds (or replaces) the redirection of the parameter whose gradient lives at `key`; returns its index.
    std::size_t add(const T* key, GradRedirect r) {
      const auto [it, added] = index_.try_emplace(key, entries_.size());
      if (added)
        entries_.push_back({key, r});
      else
        entries_[it->second].second = r;
      return it->second;
    }
    GradRedirect* find(const T* key) {
      std::size_t i = next_ < entries_.size() && entries_[next_].first == key ? next_ : entries_.size();
      if (i == entries_.size()) {
        const auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        i = it->second;
      }
      next_ = i + 1;
      return &entries_[i].second;
    }
    GradRedirect& operator[](std::size_t i) { return entries_[i].second; }
    void clear() {
      entries_.clear();
      index_.clear();
      next_ = 0;
    }

   private:
    std::vector<std::pair<const T*, GradRedirect>> entries_;  // in the order added
    std::unordered_map<const T*, std::size_t> index_;
    std::size_t next_ = 0;
  };
  // From now on (across clear()), param(p) for a p in `to` sends p's gradient to its buffer. How a
  // data-parallel step (nn/data_parallel.hpp) gives the tape of each part of the batch its own gradient
  // buffers over the same parameter values, and drops the zeroing sweeps. `to` (one per tape) must outlive
  // its use; nullptr ends the redirection.
  void redirect_param_grads(GradRedirects* to) { grad_redirect_ = to; }

  // ---- backward -----------------------------------------------------------------------------------------
  // Gradients of the 1x1 `loss` with respect to everything recorded before it.
  void backward(const Var<T>& loss);
  // Vector-Jacobian product: gradients of sum(out ⊙ seed), for an output of any shape.
  void backward(const Var<T>& out, TensorView<const T> seed);
  bool backward_done() const { return backward_done_; }

  // Forgets the recording (nodes, slots, values, gradients of intermediates) and starts a new generation.
  // Keeps the memory. Parameters keep their gradients.
  void clear();

  // Anomaly detection: check every op output and every gradient for NaN/Inf (costs a pass over each).
  void set_anomaly_detection(bool on) { anomaly_detection_ = on; }
  bool anomaly_detection() const { return anomaly_detection_; }

  // ---- scopes: which layer an op belongs to -------------------------------------------------------------
  // Ops run from now on belong to scope `name`.`index` (a network's "layers", 17) until the next set_scope or
  // clear_scope, so that an anomaly report says "in layers.17": on a deep network an op number alone does not
  // tell which layer blew up. `name` must outlive the tape (a string literal). One entry per change, in a
  // vector that keeps its capacity across clear(): no allocation in a training step after the first.
  void set_scope(const char* name, index_t index);
  void clear_scope() { set_scope(nullptr, 0); }
  // "layers.17" for the scope node `node_index` was recorded in; "" when none.
  std::string scope_of_node(std::size_t node_index) const;

  // ---- inspection ---------------------------------------------------------------------------------------
  std::uint32_t generation() const { return generation_; }
  std::span<const Node<T>> nodes() const { return nodes_; }
  std::size_t num_slots() const { return slots_.size(); }
  const Arena& arena() const { return values_; }
  const Arena& scratch_arena() const { return scratch_; }
  static std::string node_label(const Node<T>& n) { return op_label(n.kind, n.variant); }

  // ---- the op-implementer interface (autodiff/ops/*.cpp) -----------------------------------------------
  // Throws UsageError unless v is a live Var of this tape; `op` and `arg` name it in the message.
  void check_arg(const char* op, const char* arg, const Var<T>& v) const;
  Slot<T>& slot(std::uint32_t i) { return slots_[i]; }
  const Slot<T>& slot(std::uint32_t i) const { return slots_[i]; }
  Slot<T>& slot(const Var<T>& v) { return slots_[v.slot_]; }

  // A new rows x cols output slot with uninitialised arena storage.
  Var<T> new_output(index_t rows, index_t cols) {
    T* value = values_.allocate_array<T>(std::size_t(rows * cols));
    return Var<T>(this, push_slot(value, nullptr, rows, cols, cols, 0), generation_);
  }
  // Arena memory that lives until clear() (values backward needs).
  template <class U = T>
  U* saved_buffer(std::size_t n) {
    return values_.allocate_array<U>(n);
  }
  // Temporary memory, valid until the current op's forward or backward returns.
  T* scratch(std::size_t n) { return scratch_.allocate_array<T>(n); }

  // True if the op about to finish should record a node: grad mode on and some input requires grad.
  bool should_record(std::initializer_list<Var<T>> inputs) const {
    if (!grad_mode_enabled()) return false;
    for (const Var<T>& v : inputs)
      if (!v.empty() && (slots_[v.slot_].flags & Slot<T>::kRequiresGrad)) return true;
    return false;
  }
  // Records a node producing `out` (marks `out` as requiring grad) and returns it for saved values.
  Node<T>& record(OpKind kind, std::uint8_t variant, const Var<T>& out, std::initializer_list<Var<T>> inputs,
                  BackwardFn<T> backward) {
    Slot<T>& o = slots_[out.slot_];
    o.flags |= Slot<T>::kRequiresGrad;
    o.producer = std::uint32_t(nodes_.size());
    // Field by field into the vector's own storage: a Node built on the stack and copied in was written in
    // narrow stores and read back in 16-byte loads, which the store buffer cannot forward (a stall of a dozen
    // cycles each, a third of a tiny op's time on an Intel core).
    Node<T>& n = nodes_.emplace_back();
    n.backward = backward;
    n.saved[0] = n.saved[1] = nullptr;
    n.aux = nullptr;
    n.scalar = n.scalar2 = T(0);
    n.out = out.slot_;
    std::size_t k = 0;
    for (const Var<T>& v : inputs) n.in[k++] = v.empty() ? kNoSlot : v.slot_;
    for (; k < 4; ++k) n.in[k] = kNoSlot;
    n.kind = kind;
    n.variant = variant;
    return n;
  }
  // Ends an op's forward: rewinds the scratch memory and, in anomaly mode, checks the output.
  Var<T> finish(OpKind kind, std::uint8_t variant, const Var<T>& out) {
    scratch_.rewind();
    ++ops_run_;
    if (anomaly_detection_) check_forward_finite(kind, variant, out.slot_);
    return out;
  }

  // Backward helpers. The gradient of a node's output (non-null while the node runs backward):
  const T* output_grad(const Node<T>& n) const { return slots_[n.out].grad; }
  // True if slot i (kNoSlot allowed) wants a gradient.
  bool wants_grad(std::uint32_t i) const {
    return i != kNoSlot && (slots_[i].flags & Slot<T>::kRequiresGrad);
  }
  // Where to write slot i's gradient, and with which beta: a fresh buffer and beta = 0 on the first write
  // (the kernel overwrites), the existing buffer and beta = 1 afterwards (the kernel accumulates).
  struct GradTarget {
    T* data;
    T beta;
  };
  GradTarget grad_target(std::uint32_t i) {
    Slot<T>& s = slots_[i];
    if (s.grad != nullptr) return {s.grad, take_unwritten(s) ? T(0) : T(1)};
    s.grad = allocate_grad(std::size_t(s.rows * s.cols));
    return {s.grad, T(0)};
  }
  // grad(i) += f, where compute(dst) overwrites a contiguous rows x cols dst with f: directly into a fresh
  // gradient on the first write, through scratch and an axpy afterwards.
  template <class Compute>
  void add_to_grad(std::uint32_t i, Compute&& compute) {
    Slot<T>& s = slots_[i];
    if (s.grad == nullptr || take_unwritten(s)) {
      if (s.grad == nullptr) s.grad = allocate_grad(std::size_t(s.rows * s.cols));
      compute(s.grad);
      return;
    }
    T* tmp = scratch(std::size_t(s.rows * s.cols));
    compute(tmp);
    kernels::axpy(s.rows, s.cols, T(1), tmp, s.cols, s.grad, s.cols);
  }
  // grad(i) += alpha * src, for a contiguous-or-not rows x cols src with leading dimension ld_src.
  void add_scaled(std::uint32_t i, T alpha, const T* src, index_t ld_src) {
    Slot<T>& s = slots_[i];
    if (s.grad != nullptr && !take_unwritten(s)) {
      kernels::axpy(s.rows, s.cols, alpha, src, ld_src, s.grad, s.cols);
      return;
    }
    if (s.grad == nullptr) s.grad = allocate_grad(std::size_t(s.rows * s.cols));
    kernels::copy(s.rows, s.cols, src, ld_src, s.grad, s.cols);
    if (alpha != T(1)) kernels::scale(s.rows, s.cols, alpha, s.grad, s.cols);
  }
  // grad(i) += grad(n.out). With `last_use` (the node reads its output gradient no more), a first write takes
  // over the output's buffer instead of copying it, unless the output's gradient is retained.
  void add_output_grad(std::uint32_t i, const Node<T>& n, bool last_use);

 private:
  // Appends a slot field by field (see record() for why not a temporary) and returns its index.
  std::uint32_t push_slot(T* value, T* grad, index_t rows, index_t cols, index_t ld, std::uint8_t flags) {
    Slot<T>& s = slots_.emplace_back();
    s.value = value;
    s.grad = grad;
    s.rows = rows;
    s.cols = cols;
    s.ld = ld;
    s.producer = kNoSlot;
    s.flags = flags;
    return std::uint32_t(slots_.size() - 1);
  }
  // True once for a slot whose buffer holds nothing yet (kGradUnwritten): the caller's write must overwrite
  // it.
  static bool take_unwritten(Slot<T>& s) {
    if (!(s.flags & Slot<T>::kGradUnwritten)) return false;
    s.flags &= std::uint8_t(~Slot<T>::kGradUnwritten);
    return true;
  }
  friend class Var<T>;
  Var<T> leaf(const char* what, TensorView<const T> x, std::uint8_t flags);
  T* allocate_grad(std::size_t n);
  void release_grad(Slot<T>& s);
  void check_forward_finite(OpKind kind, std::uint8_t variant, std::uint32_t out) const;
  void check_backward_finite(std::size_t node_index) const;
  std::string describe_slot(std::uint32_t i) const;
  static std::string scope_string(const char* name, index_t index);

  // Scope changes, in recording order: the nodes from first_node on (until the next mark) are in name.index
  // (no scope when name is null).
  struct ScopeMark {
    std::size_t first_node;
    const char* name;
    index_t index;
  };

  // Recycled gradient buffers: an intrusive list threaded through the free buffers themselves (each is at
  // least one 64-byte arena unit), so recycling needs no container and no allocation.
  struct FreeGrad {
    void* next;
    std::size_t count;
  };

  std::vector<Slot<T>> slots_;
  std::vector<Node<T>> nodes_;
  std::vector<ScopeMark> scopes_;
  Arena values_;
  Arena scratch_{std::size_t(1) << 16};
  void* free_grads_ = nullptr;
  std::uint32_t generation_ = 1;
  std::size_t ops_run_ = 0;
  bool backward_done_ = false;
  bool anomaly_detection_ = false;
  GradRedirects* grad_redirect_ = nullptr;
  std::vector<std::uint32_t> unwritten_slots_;  // this recording's kGradUnwritten parameter slots
};

// ---- Var members (need the full Tape) ---------------------------------------------------------------------

template <class T>
void Var<T>::check() const {
  if (tape_ == nullptr)
    throw UsageError("Var: this Var is empty (default-constructed); it refers to no value");
  if (generation_ != tape_->generation_)
    throw UsageError("Var: used after tape.clear(): it was recorded in tape generation " +
                     std::to_string(generation_) + " but the tape is now at generation " +
                     std::to_string(tape_->generation_) + "; its memory has been reused");
}
template <class T>
Tape<T>& Var<T>::tape() const {
  check();
  return *tape_;
}
template <class T>
index_t Var<T>::rows() const {
  check();
  return tape_->slots_[slot_].rows;
}
template <class T>
index_t Var<T>::cols() const {
  check();
  return tape_->slots_[slot_].cols;
}
template <class T>
TensorView<const T> Var<T>::value() const {
  check();
  const Slot<T>& s = tape_->slots_[slot_];
  return {s.value, s.rows, s.cols, s.ld};
}
template <class T>
T Var<T>::item() const {
  check();
  const Slot<T>& s = tape_->slots_[slot_];
  if (s.rows != 1 || s.cols != 1)
    throw ShapeError("item: the Var is " + shape_string(s.rows, s.cols) + ", not 1x1");
  return s.value[0];
}
template <class T>
bool Var<T>::requires_grad() const {
  check();
  return (tape_->slots_[slot_].flags & Slot<T>::kRequiresGrad) != 0;
}
template <class T>
bool Var<T>::has_grad() const {
  check();
  return tape_->slots_[slot_].grad != nullptr;
}
template <class T>
void Var<T>::retain_grad() const {
  check();
  if (tape_->backward_done_)
    throw UsageError("retain_grad: called after backward(); call it before backward() to keep this gradient");
  tape_->slots_[slot_].flags |= Slot<T>::kRetainGrad;
}

}  // namespace tapelab
