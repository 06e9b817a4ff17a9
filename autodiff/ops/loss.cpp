#include "autodiff/ops/loss.hpp"

#include <algorithm>
#include <cmath>

#include "autodiff/ops/op_support.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/reductions.hpp"

namespace tapelab {

// ---- mse: loss = (1/n) ‖pred - target‖² ;  dpred += (2g/n) diff, dtarget -= (2g/n) diff
// ----------------------

namespace {
template <class T>
void mse_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& p = tape.slot(n.in[0]);
  const T* diff = n.saved[0];  // pred - target, contiguous r x c
  const T c = T(2) * tape.output_grad(n)[0] / T(p.rows * p.cols);
  if (tape.wants_grad(n.in[0])) tape.add_scaled(n.in[0], c, diff, p.cols);
  if (tape.wants_grad(n.in[1])) tape.add_scaled(n.in[1], -c, diff, p.cols);
}
}  // namespace

template <class T>
Var<T> mse(const Var<T>& pred, const Var<T>& target) {
  Tape<T>& tape = ops_detail::common_tape("mse", "pred", pred, ops_detail::Named<T>{"target", target});
  ops_detail::check_same_shape("mse", "pred", pred, "target", target);
  const Slot<T> sp = tape.slot(pred), st = tape.slot(target);
  const bool record = tape.should_record({pred, target});
  const std::size_t n = std::size_t(sp.rows * sp.cols);
  T* diff = record ? tape.saved_buffer(n) : tape.scratch(n);
  kernels::sub(sp.rows, sp.cols, sp.value, sp.ld, st.value, st.ld, diff, sp.cols);
  const T loss = kernels::squared_norm(sp.rows, sp.cols, diff, sp.cols) / T(n);
  Var<T> out = tape.new_output(1, 1);
  tape.slot(out).value[0] = loss;
  if (record) tape.record(OpKind::mse, 0, out, {pred, target}, &mse_backward<T>).saved[0] = diff;
  return tape.finish(OpKind::mse, 0, out);
}

// ---- softmax_cross_entropy ;  dlogits += (g/B) (softmax(logits) - onehot(labels))
// ----------------------------

namespace {
template <class T>
void softmax_cross_entropy_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& z = tape.slot(n.in[0]);
  const T* probs = n.saved[0];  // C x B, contiguous
  const int* labels = static_cast<const int*>(n.aux);
  const T c = tape.output_grad(n)[0] / T(z.cols);
  tape.add_to_grad(n.in[0], [&](T* dz) {
    kernels::copy(z.rows, z.cols, probs, z.cols, dz, z.cols);
    kernels::scale(z.rows, z.cols, c, dz, z.cols);
    for (index_t j = 0; j < z.cols; ++j) dz[labels[j] * z.cols + j] -= c;
  });
}
}  // namespace

template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, std::span<const int> labels) {
  const char* name = "softmax_cross_entropy";
  Tape<T>& tape = ops_detail::common_tape(name, "logits", logits);
  const Slot<T> z = tape.slot(logits);
  const index_t C = z.rows, B = z.cols;
  if (index_t(labels.size()) != B)
    throw ShapeError(std::string(name) + ": logits are " + shape_string(C, B) + " (classes x batch) but " +
                     std::to_string(labels.size()) + " labels were given (one per column)");
  for (index_t j = 0; j < B; ++j)
    if (labels[j] < 0 || labels[j] >= C)
      throw ShapeError(std::string(name) + ": label " + std::to_string(labels[j]) + " (column " +
                       std::to_string(j) + ") is out of range for " + std::to_string(C) +
                       " classes (logits are " + shape_string(C, B) + ")");
  const bool record = tape.should_record({logits});
  T* probs = record ? tape.saved_buffer(std::size_t(C * B)) : tape.scratch(std::size_t(C * B));
  T* col_max = tape.scratch(std::size_t(B));
  T* col_sum = tape.scratch(std::size_t(B));
  // Column-wise stable softmax over a row-major C x B matrix: rows are walked in order, columns vectorise.
  for (index_t j = 0; j < B; ++j) col_max[j] = z.value[j];
  for (index_t i = 1; i < C; ++i)
    for (index_t j = 0; j < B; ++j) col_max[j] = std::max(col_max[j], z.value[i * z.ld + j]);
  for (index_t j = 0; j < B; ++j) col_sum[j] = T(0);
  for (index_t i = 0; i < C; ++i)
    for (index_t j = 0; j < B; ++j) {
      const T e = std::exp(z.value[i * z.ld + j] - col_max[j]);
      probs[i * B + j] = e;
      col_sum[j] += e;
    }
  T loss = T(0);
  for (index_t j = 0; j < B; ++j) loss += col_max[j] + std::log(col_sum[j]) - z.value[labels[j] * z.ld + j];
  loss /= T(B);
  for (index_t i = 0; i < C; ++i)
    for (index_t j = 0; j < B; ++j) probs[i * B + j] /= col_sum[j];
  Var<T> out = tape.new_output(1, 1);
  tape.slot(out).value[0] = loss;
  if (record) {
    int* saved_labels = tape.template saved_buffer<int>(labels.size());
    std::copy(labels.begin(), labels.end(), saved_labels);
    Node<T>& n =
        tape.record(OpKind::softmax_cross_entropy, 0, out, {logits}, &softmax_cross_entropy_backward<T>);
    n.saved[0] = probs;
    n.aux = saved_labels;
  }
  return tape.finish(OpKind::softmax_cross_entropy, 0, out);
}

#define TAPELAB_INSTANTIATE(T)                       \
  template Var<T> mse(const Var<T>&, const Var<T>&); \
  template Var<T> softmax_cross_entropy(const Var<T>&, std::span<const int>);
TAPELAB_INSTANTIATE(float)
TAPELAB_INSTANTIATE(double)
#undef TAPELAB_INSTANTIATE

}  // namespace tapelab
