#include "autodiff/ops/reduction.hpp"

#include "autodiff/ops/op_support.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/reductions.hpp"

namespace tapelab {

namespace {

// da += c (a constant broadcast to every entry)
template <class T>
void add_constant_to_grad(Tape<T>& tape, std::uint32_t i, T c) {
  const Slot<T>& a = tape.slot(i);
  auto [da, beta] = tape.grad_target(i);
  if (beta == T(0)) {
    kernels::fill(a.rows, a.cols, c, da, a.cols);
  } else {
    T* row = tape.scratch(std::size_t(a.cols));
    kernels::fill(1, a.cols, c, row, a.cols);
    kernels::add_row_vector(a.rows, a.cols, row, da, a.cols);
  }
}

template <class T>
void sum_backward(Tape<T>& tape, const Node<T>& n) {
  add_constant_to_grad(tape, n.in[0], tape.output_grad(n)[0]);
}
template <class T>
void mean_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& a = tape.slot(n.in[0]);
  add_constant_to_grad(tape, n.in[0], tape.output_grad(n)[0] / T(a.rows * a.cols));
}
template <class T>
void squared_norm_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& a = tape.slot(n.in[0]);
  tape.add_scaled(n.in[0], T(2) * tape.output_grad(n)[0], a.value, a.ld);
}

template <class T>
Var<T> reduce(const char* name, OpKind kind, BackwardFn<T> backward, const Var<T>& a) {
  Tape<T>& tape = ops_detail::common_tape(name, "input", a);
  const Slot<T> sa = tape.slot(a);
  T r = T(0);
  switch (kind) {
    case OpKind::sum:
      r = kernels::sum(sa.rows, sa.cols, sa.value, sa.ld);
      break;
    case OpKind::mean:
      r = kernels::sum(sa.rows, sa.cols, sa.value, sa.ld) / T(sa.rows * sa.cols);
      break;
    default:
      r = kernels::squared_norm(sa.rows, sa.cols, sa.value, sa.ld);
      break;
  }
  Var<T> out = tape.new_output(1, 1);
  tape.slot(out).value[0] = r;
  if (tape.should_record({a})) tape.record(kind, 0, out, {a}, backward);
  return tape.finish(kind, 0, out);
}

}  // namespace

template <class T>
Var<T> sum(const Var<T>& a) {
  return reduce<T>("sum", OpKind::sum, &sum_backward<T>, a);
}
template <class T>
Var<T> mean(const Var<T>& a) {
  return reduce<T>("mean", OpKind::mean, &mean_backward<T>, a);
}
template <class T>
Var<T> squared_norm(const Var<T>& a) {
  return reduce<T>("squared_norm", OpKind::squared_norm, &squared_norm_backward<T>, a);
}

#define TAPELAB_INSTANTIATE(T)         \
  template Var<T> sum(const Var<T>&);  \
  template Var<T> mean(const Var<T>&); \
  template Var<T> squared_norm(const Var<T>&);
TAPELAB_INSTANTIATE(float)
TAPELAB_INSTANTIATE(double)
#undef TAPELAB_INSTANTIATE

}  // namespace tapelab
