#include "autodiff/ops/elementwise.hpp"

#include "autodiff/ops/op_support.hpp"
#include "kernels/elementwise.hpp"

namespace tapelab {

using ops_detail::common_tape;
using ops_detail::Named;

// ---- add: out = a + b ;  da += G, db += G
// --------------------------------------------------------------------

namespace {
template <class T>
void add_backward(Tape<T>& tape, const Node<T>& n) {
  if (tape.wants_grad(n.in[0])) tape.add_output_grad(n.in[0], n, /*last_use=*/!tape.wants_grad(n.in[1]));
  if (tape.wants_grad(n.in[1])) tape.add_output_grad(n.in[1], n, /*last_use=*/true);
}
}  // namespace

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = common_tape("add", "lhs", a, Named<T>{"rhs", b});
  ops_detail::check_same_shape("add", "lhs", a, "rhs", b);
  const Slot<T> sa = tape.slot(a), sb = tape.slot(b);
  Var<T> out = tape.new_output(sa.rows, sa.cols);
  kernels::add(sa.rows, sa.cols, sa.value, sa.ld, sb.value, sb.ld, tape.slot(out).value, sa.cols);
  if (tape.should_record({a, b})) tape.record(OpKind::add, 0, out, {a, b}, &add_backward<T>);
  return tape.finish(OpKind::add, 0, out);
}

// ---- sub: out = a - b ;  da += G, db -= G
// --------------------------------------------------------------------

namespace {
template <class T>
void sub_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& o = tape.slot(n.out);
  if (tape.wants_grad(n.in[1])) tape.add_scaled(n.in[1], T(-1), tape.output_grad(n), o.cols);
  if (tape.wants_grad(n.in[0])) tape.add_output_grad(n.in[0], n, /*last_use=*/true);
}
}  // namespace

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = common_tape("sub", "lhs", a, Named<T>{"rhs", b});
  ops_detail::check_same_shape("sub", "lhs", a, "rhs", b);
  const Slot<T> sa = tape.slot(a), sb = tape.slot(b);
  Var<T> out = tape.new_output(sa.rows, sa.cols);
  kernels::sub(sa.rows, sa.cols, sa.value, sa.ld, sb.value, sb.ld, tape.slot(out).value, sa.cols);
  if (tape.should_record({a, b})) tape.record(OpKind::sub, 0, out, {a, b}, &sub_backward<T>);
  return tape.finish(OpKind::sub, 0, out);
}

// ---- hadamard: out = a ⊙ b ;  da += G ⊙ b, db += G ⊙ a
// -------------------------------------------------------

namespace {
template <class T>
void hadamard_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T> a = tape.slot(n.in[0]), b = tape.slot(n.in[1]);
  const T* G = tape.output_grad(n);
  if (tape.wants_grad(n.in[0]))
    tape.add_to_grad(n.in[0],
                     [&](T* da) { kernels::hadamard(a.rows, a.cols, G, a.cols, b.value, b.ld, da, a.cols); });
  if (tape.wants_grad(n.in[1]))
    tape.add_to_grad(n.in[1],
                     [&](T* db) { kernels::hadamard(a.rows, a.cols, G, a.cols, a.value, a.ld, db, a.cols); });
}
}  // namespace

template <class T>
Var<T> hadamard(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = common_tape("hadamard", "lhs", a, Named<T>{"rhs", b});
  ops_detail::check_same_shape("hadamard", "lhs", a, "rhs", b);
  const Slot<T> sa = tape.slot(a), sb = tape.slot(b);
  Var<T> out = tape.new_output(sa.rows, sa.cols);
  kernels::hadamard(sa.rows, sa.cols, sa.value, sa.ld, sb.value, sb.ld, tape.slot(out).value, sa.cols);
  if (tape.should_record({a, b})) tape.record(OpKind::hadamard, 0, out, {a, b}, &hadamard_backward<T>);
  return tape.finish(OpKind::hadamard, 0, out);
}

// ---- scale: out = c a ;  da += c G
// ---------------------------------------------------------------------------

namespace {
template <class T>
void scale_backward(Tape<T>& tape, const Node<T>& n) {
  tape.add_scaled(n.in[0], n.scalar, tape.output_grad(n), tape.slot(n.out).cols);
}
}  // namespace

template <class T>
Var<T> scale(const Var<T>& a, T c) {
  Tape<T>& tape = common_tape("scale", "input", a);
  const Slot<T> sa = tape.slot(a);
  Var<T> out = tape.new_output(sa.rows, sa.cols);
  T* y = tape.slot(out).value;
  kernels::copy(sa.rows, sa.cols, sa.value, sa.ld, y, sa.cols);
  kernels::scale(sa.rows, sa.cols, c, y, sa.cols);
  if (tape.should_record({a})) tape.record(OpKind::scale, 0, out, {a}, &scale_backward<T>).scalar = c;
  return tape.finish(OpKind::scale, 0, out);
}

// ---- add_bias: out = a + bias broadcast ;  da += G, dbias += row sums (per_row) or column sums (per_col)
// ------

namespace {
template <class T>
void add_bias_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& o = tape.slot(n.out);
  const T* G = tape.output_grad(n);
  if (tape.wants_grad(n.in[1])) {
    auto [dbias, beta] = tape.grad_target(n.in[1]);
    if (Bias(n.variant) == Bias::per_row)
      kernels::row_sums(o.rows, o.cols, G, o.cols, beta, dbias);
    else
      kernels::column_sums(o.rows, o.cols, G, o.cols, beta, dbias);
  }
  if (tape.wants_grad(n.in[0])) tape.add_output_grad(n.in[0], n, /*last_use=*/true);
}
}  // namespace

template <class T>
Var<T> add_bias(const Var<T>& a, const Var<T>& bias, Bias mode) {
  const char* name = mode == Bias::per_row ? "add_bias(per_row)" : "add_bias(per_col)";
  if (mode == Bias::none) throw UsageError("add_bias: the bias mode must be per_row or per_col, not none");
  Tape<T>& tape = common_tape(name, "input", a, Named<T>{"bias", bias});
  const Slot<T> sa = tape.slot(a), sb = tape.slot(bias);
  if (mode == Bias::per_row && (sb.rows != sa.rows || sb.cols != 1))
    throw_shape_error(
        name, "input", sa.rows, sa.cols, "bias", sb.rows, sb.cols,
        "a per-row bias is a column vector with one entry per row: " + shape_string(sa.rows, 1));
  if (mode == Bias::per_col && (sb.rows != 1 || sb.cols != sa.cols))
    throw_shape_error(
        name, "input", sa.rows, sa.cols, "bias", sb.rows, sb.cols,
        "a per-column bias is a row vector with one entry per column: " + shape_string(1, sa.cols));
  Var<T> out = tape.new_output(sa.rows, sa.cols);
  T* y = tape.slot(out).value;
  kernels::copy(sa.rows, sa.cols, sa.value, sa.ld, y, sa.cols);
  // A bias vector may be a view with ld > 1 only as a row (per_col); a per-row bias (r x 1) must be
  // contiguous.
  if (mode == Bias::per_row) {
    if (sb.ld == 1 || sb.rows == 1) {
      kernels::add_col_vector(sa.rows, sa.cols, sb.value, y, sa.cols);
    } else {  // a column of a wider matrix: gather it first
      T* v = tape.scratch(std::size_t(sb.rows));
      kernels::copy(sb.rows, 1, sb.value, sb.ld, v, 1);
      kernels::add_col_vector(sa.rows, sa.cols, v, y, sa.cols);
    }
  } else {
    kernels::add_row_vector(sa.rows, sa.cols, sb.value, y, sa.cols);
  }
  if (tape.should_record({a, bias}))
    tape.record(OpKind::add_bias, std::uint8_t(mode), out, {a, bias}, &add_bias_backward<T>);
  return tape.finish(OpKind::add_bias, std::uint8_t(mode), out);
}

#define TAPELAB_INSTANTIATE(T)                            \
  template Var<T> add(const Var<T>&, const Var<T>&);      \
  template Var<T> sub(const Var<T>&, const Var<T>&);      \
  template Var<T> hadamard(const Var<T>&, const Var<T>&); \
  template Var<T> scale(const Var<T>&, T);                \
  template Var<T> add_bias(const Var<T>&, const Var<T>&, Bias);
TAPELAB_INSTANTIATE(float)
TAPELAB_INSTANTIATE(double)
#undef TAPELAB_INSTANTIATE

}  // namespace tapelab
