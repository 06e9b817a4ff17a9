#include "autodiff/tape.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/reductions.hpp"

namespace tapelab {

bool anomaly_detection_default() {
  static const bool on = [] {
    const char* v = std::getenv("TAPELAB_ANOMALY");
    return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
  }();
  return on;
}

// ---- leaves
// -------------------------------------------------------------------------------------------------

template <class T>
Var<T> Tape<T>::leaf(const char* what, TensorView<const T> x, std::uint8_t flags) {
  if (x.rows <= 0 || x.cols <= 0)
    throw ShapeError(std::string(what) + ": empty tensor " + shape_string(x.rows, x.cols));
  if (x.data == nullptr) throw UsageError(std::string(what) + ": the view has no data");
  if (x.rows > 1 && x.ld < x.cols)
    throw ShapeError(std::string(what) + ": leading dimension " + std::to_string(x.ld) + " < cols " +
                     std::to_string(x.cols));
  // The tape never writes a leaf's value, so dropping const here is safe.
  return Var<T>(
      this,
      push_slot(const_cast<T*>(x.data), nullptr, x.rows, x.cols, x.ld, std::uint8_t(flags | Slot<T>::kLeaf)),
      generation_);
}

template <class T>
Var<T> Tape<T>::param(Parameter<T>& p) {
  if (p.value.size() == 0)
    throw ShapeError("param: the parameter is empty (" + shape_string(p.rows(), p.cols()) + ")");
  if (p.grad.rows() != p.value.rows() || p.grad.cols() != p.value.cols())
    throw_shape_error("param", "value", p.value.rows(), p.value.cols(), "grad", p.grad.rows(), p.grad.cols(),
                      "a parameter's gradient must have its value's shape");
  const std::uint8_t flags =
      Slot<T>::kLeaf | Slot<T>::kParameter | (p.requires_grad ? Slot<T>::kRequiresGrad : 0);
  T* grad = p.requires_grad ? p.grad.data() : nullptr;
  std::uint8_t unwritten = 0;
  if (grad != nullptr && grad_redirect_ != nullptr) {
    if (GradRedirect* found = grad_redirect_->find(grad)) {
      GradRedirect& r = *found;
      grad = r.to;
      if (r.overwrite && r.generation != generation_) {  // p's first slot in this recording
        unwritten = Slot<T>::kGradUnwritten;
        r.slot = std::uint32_t(slots_.size());
        unwritten_slots_.push_back(r.slot);
      } else if (r.overwrite && take_unwritten(slots_[r.slot])) {
        // p again (a shared weight): its slots' backward writes come in no order known here, so all of them
        // accumulate, onto zeros.
        kernels::fill(p.rows(), p.cols(), T(0), grad, p.cols());
      }
      r.generation = generation_;
    }
  }
  return Var<T>(this, push_slot(p.value.data(), grad, p.rows(), p.cols(), p.value.ld(), flags | unwritten),
                generation_);
}

template <class T>
void Tape<T>::check_arg(const char* op, const char* arg, const Var<T>& v) const {
  if (v.tape_ == nullptr) throw UsageError(std::string(op) + ": " + arg + " is an empty Var");
  if (v.tape_ != this)
    throw UsageError(std::string(op) + ": " + arg +
                     " belongs to a different tape than the op's other arguments");
  if (v.generation_ != generation_)
    throw UsageError(std::string(op) + ": " + arg + " was recorded before tape.clear() (generation " +
                     std::to_string(v.generation_) + ", the tape is at " + std::to_string(generation_) +
                     "); its memory has been reused");
}

// ---- gradient buffers
// ---------------------------------------------------------------------------------------

template <class T>
T* Tape<T>::allocate_grad(std::size_t n) {
  // First fit of the exact size among recycled buffers, else fresh arena memory.
  void** link = &free_grads_;
  while (*link != nullptr) {
    FreeGrad header;
    std::memcpy(&header, *link, sizeof header);
    if (header.count == n) {
      void* buffer = *link;
      *link = header.next;
      return static_cast<T*>(buffer);
    }
    link = &static_cast<FreeGrad*>(*link)->next;
  }
  return values_.allocate_array<T>(n);
}

template <class T>
void Tape<T>::release_grad(Slot<T>& s) {
  const FreeGrad header{free_grads_, std::size_t(s.rows * s.cols)};
  static_assert(sizeof(FreeGrad) <= Arena::kAlignment, "a free-list header must fit the smallest arena unit");
  std::memcpy(s.grad, &header, sizeof header);
  free_grads_ = s.grad;
  s.grad = nullptr;
  s.flags |= Slot<T>::kGradReleased;
}

template <class T>
void Tape<T>::add_output_grad(std::uint32_t i, const Node<T>& n, bool last_use) {
  Slot<T>& s = slots_[i];
  Slot<T>& o = slots_[n.out];
  if (s.grad == nullptr && last_use && !(o.flags & Slot<T>::kRetainGrad) && s.rows == o.rows &&
      s.cols == o.cols) {
    s.grad = o.grad;  // hand the buffer on: the output's gradient is dead after this node
    o.grad = nullptr;
    o.flags |= Slot<T>::kGradReleased;
    return;
  }
  add_scaled(i, T(1), o.grad, o.cols);
}

// ---- backward
// -----------------------------------------------------------------------------------------------

template <class T>
void Tape<T>::backward(const Var<T>& loss) {
  check_arg("backward", "loss", loss);
  const Slot<T>& s = slots_[loss.slot_];
  if (s.rows != 1 || s.cols != 1)
    throw ShapeError("backward: the loss must be 1x1 but is " + shape_string(s.rows, s.cols) +
                     " (for a non-scalar output, pass a seed gradient: backward(out, seed))");
  const T one = T(1);
  backward(loss, TensorView<const T>{&one, 1, 1, 1});
}

template <class T>
void Tape<T>::backward(const Var<T>& out, TensorView<const T> seed) {
  check_arg("backward", "output", out);
  if (backward_done_)
    throw UsageError(
        "backward: called twice on the same recording; the second pass would count every gradient again. "
        "Call tape.clear(), record the forward pass again, then call backward()");
  Slot<T>& s = slots_[out.slot_];
  if (seed.rows != s.rows || seed.cols != s.cols)
    throw_shape_error("backward", "output", s.rows, s.cols, "seed", seed.rows, seed.cols,
                      "the seed gradient must have the output's shape");
  if (!(s.flags & Slot<T>::kRequiresGrad))
    throw UsageError(
        "backward: the output does not require grad: nothing it depends on is a variable or a parameter "
        "that requires grad, or it was computed under a NoGradGuard");
  backward_done_ = true;

  // Seed: d out / d out = seed (added to the buffer of a parameter used directly as the output).
  add_scaled(out.slot_, T(1), seed.data, seed.ld);

  // The recording order is a topological order, so one reverse sweep sees every node after all its consumers.
  for (std::size_t k = nodes_.size(); k-- > 0;) {
    const Node<T>& n = nodes_[k];
    Slot<T>& o = slots_[n.out];
    if (o.grad == nullptr) continue;  // the output does not reach the loss
    n.backward(*this, n);
    scratch_.rewind();
    if (anomaly_detection_) check_backward_finite(k);
    if (o.grad != nullptr && !(o.flags & Slot<T>::kRetainGrad)) release_grad(o);
  }
  // Unwritten parameter buffers that no gradient reached hold zero, as if they had been zeroed beforehand.
  for (std::uint32_t i : unwritten_slots_) {
    Slot<T>& p = slots_[i];
    if (take_unwritten(p)) kernels::fill(p.rows, p.cols, T(0), p.grad, p.cols);
  }
}

template <class T>
void Tape<T>::clear() {
  slots_.clear();
  nodes_.clear();
  scopes_.clear();
  values_.rewind();
  scratch_.rewind();
  free_grads_ = nullptr;
  unwritten_slots_.clear();
  ++generation_;
  ops_run_ = 0;
  backward_done_ = false;
}

// ---- anomaly detection
// --------------------------------------------------------------------------------------

namespace {

template <class T>
bool all_finite(const T* x, index_t rows, index_t cols, index_t ld) {
  return std::isfinite(kernels::max_abs(rows, cols, x, ld));  // NaN if any NaN, Inf if any Inf
}

template <class T>
std::string first_non_finite(const T* x, index_t rows, index_t cols, index_t ld) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j)
      if (!std::isfinite(x[i * ld + j])) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "[%td, %td] = %g", i, j, double(x[i * ld + j]));
        return buf;
      }
  return "?";
}

}  // namespace

template <class T>
std::string Tape<T>::describe_slot(std::uint32_t i) const {
  const Slot<T>& s = slots_[i];
  std::string what = shape_string(s.rows, s.cols);
  if (s.flags & Slot<T>::kParameter) return what + " parameter";
  if (s.flags & Slot<T>::kLeaf)
    return what + ((s.flags & Slot<T>::kRequiresGrad) ? " variable" : " constant");
  if (s.producer != kNoSlot) return what + " output of " + node_label(nodes_[s.producer]);
  return what + " value computed without recording";
}

// ---- scopes
// ----------------------------------------------------------------------------------------------------

template <class T>
void Tape<T>::set_scope(const char* name, index_t index) {
  if (!scopes_.empty() && scopes_.back().first_node == nodes_.size()) {  // no node in the previous scope
    scopes_.back() = {nodes_.size(), name, index};
    return;
  }
  scopes_.push_back({nodes_.size(), name, index});
}

template <class T>
std::string Tape<T>::scope_string(const char* name, index_t index) {
  return name == nullptr ? std::string() : std::string(name) + "." + std::to_string(index);
}

template <class T>
std::string Tape<T>::scope_of_node(std::size_t node_index) const {
  // The last mark at or before node_index (marks are sorted by first_node).
  auto after = std::upper_bound(scopes_.begin(), scopes_.end(), node_index,
                                [](std::size_t i, const ScopeMark& m) { return i < m.first_node; });
  if (after == scopes_.begin()) return {};
  const ScopeMark& m = *(after - 1);
  return scope_string(m.name, m.index);
}

template <class T>
void Tape<T>::check_forward_finite(OpKind kind, std::uint8_t variant, std::uint32_t out) const {
  const Slot<T>& o = slots_[out];
  if (all_finite(o.value, o.rows, o.cols, o.ld)) return;
  // The scope the op ran in: the current one (whether or not the op recorded a node).
  const std::string scope =
      scopes_.empty() ? std::string() : scope_string(scopes_.back().name, scopes_.back().index);
  std::string msg = "anomaly detection: op #" + std::to_string(ops_run_) + " " + op_label(kind, variant) +
                    (scope.empty() ? "" : " in " + scope) + " produced a non-finite value: output " +
                    first_non_finite(o.value, o.rows, o.cols, o.ld);
  // Name the inputs of the recorded node, if any, to tell "made a NaN" from "passed one on".
  if (o.producer != kNoSlot) {
    const Node<T>& n = nodes_[o.producer];
    bool inputs_finite = true;
    for (std::uint32_t i : n.in)
      if (i != kNoSlot && !all_finite(slots_[i].value, slots_[i].rows, slots_[i].cols, slots_[i].ld))
        inputs_finite = false;
    msg += inputs_finite ? " (its inputs are all finite)" : " (some of its inputs were already non-finite)";
  }
  throw AnomalyError(msg);
}

template <class T>
void Tape<T>::check_backward_finite(std::size_t node_index) const {
  const Node<T>& n = nodes_[node_index];
  for (std::size_t a = 0; a < 4; ++a) {
    const std::uint32_t i = n.in[a];
    if (i == kNoSlot || slots_[i].grad == nullptr) continue;
    const Slot<T>& s = slots_[i];
    if (all_finite(s.grad, s.rows, s.cols, s.cols)) continue;
    const std::string scope = scope_of_node(node_index);
    throw AnomalyError("anomaly detection: backward of " + node_label(n) + " (node #" +
                       std::to_string(node_index) + (scope.empty() ? "" : ", in " + scope) +
                       ") produced a non-finite gradient for its input " + std::to_string(a) + " (" +
                       describe_slot(i) + "): grad" + first_non_finite(s.grad, s.rows, s.cols, s.cols));
  }
}

// ---- Var::grad
// ----------------------------------------------------------------------------------------------

template <class T>
TensorView<const T> Var<T>::grad() const {
  check();
  const Tape<T>& tape = *tape_;
  const Slot<T>& s = tape.slots_[slot_];
  if (s.grad != nullptr && (tape.backward_done_ || (s.flags & Slot<T>::kParameter)))
    return {s.grad, s.rows, s.cols, s.cols};
  const std::string what = tape.describe_slot(slot_);
  if (!(s.flags & Slot<T>::kRequiresGrad))
    throw UsageError("grad: this Var (" + what + ") does not require grad, so it has no gradient");
  if (!tape.backward_done_)
    throw UsageError("grad: backward() has not run on this recording yet (" + what + ")");
  if (s.flags & Slot<T>::kGradReleased)
    throw UsageError("grad: the gradient of this intermediate (" + what +
                     ") was not retained; call retain_grad() on it before backward()");
  throw UsageError("grad: no gradient reached this Var (" + what + "): the loss does not depend on it");
}

template class Tape<float>;
template class Tape<double>;
template TensorView<const float> Var<float>::grad() const;
template TensorView<const double> Var<double>::grad() const;

}  // namespace tapelab
