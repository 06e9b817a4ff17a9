#include "autodiff/ops/activation.hpp"

#include "autodiff/ops/op_support.hpp"
#include "kernels/activations.hpp"

namespace tapelab {

namespace {
// da (+)= G ⊙ σ'(a): the kernel reads the saved input a (the op's own input slot) and writes with beta.
template <class T>
void activation_backward(Tape<T>& tape, const Node<T>& n) {
  const Slot<T>& a = tape.slot(n.in[0]);
  auto [da, beta] = tape.grad_target(n.in[0]);
  kernels::activation_backward(Activation(n.variant), a.rows, a.cols, a.value, a.ld, tape.output_grad(n),
                               a.cols, beta, da, a.cols);
}
}  // namespace

template <class T>
Var<T> activation(const Var<T>& a, Activation act) {
  Tape<T>& tape = ops_detail::common_tape("activation", "input", a);
  const Slot<T> sa = tape.slot(a);
  Var<T> out = tape.new_output(sa.rows, sa.cols);
  kernels::activation_forward(act, sa.rows, sa.cols, sa.value, sa.ld, tape.slot(out).value, sa.cols);
  if (tape.should_record({a}))
    tape.record(OpKind::activation, std::uint8_t(act), out, {a}, &activation_backward<T>);
  return tape.finish(OpKind::activation, std::uint8_t(act), out);
}

template Var<float> activation(const Var<float>&, Activation);
template Var<double> activation(const Var<double>&, Activation);

}  // namespace tapelab
