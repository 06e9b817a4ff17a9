#include "autodiff/ops/residual_step.hpp"

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

enum Input { kH = 0, kW = 1, kV = 2, kB = 3 };

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

// A = act(Z) and, if d != nullptr, D = act'(Z) for Z = gamma W h + b (m x B), with one fused GEMM: the epilogue
// evaluates act and act' together, so D costs little more than A alone (gelu_erf: one exp for both).
template <class T>
void forward_pre_activation(Tape<T>& tape, std::uint32_t w, std::uint32_t h, std::uint32_t b,
                            kernels::Activation act, T gamma, T* d, T* a) {
  const Slot<T>& sw = tape.slot(w);
  const Slot<T>& sh = tape.slot(h);
  kernels::GemmEpilogue<T> ep;
  if (b != kNoSlot) {
    ep.bias = tape.slot(b).value;
    ep.bias_mode = kernels::Bias::per_row;
  }
  ep.activation = act;
  ep.derivative = d;
  ep.ld_derivative = sh.cols;
  kernels::gemm(Trans::N, Trans::N, sw.rows, sh.cols, sh.rows, gamma, sw.value, sw.ld, sh.value, sh.ld, T(0),
                a, sh.cols, &ep);
}

template <class T>
void residual_step_backward(Tape<T>& tape, const Node<T>& n) {
  const kernels::Activation act = residual_activation(n.variant);
  const Slot<T> h = tape.slot(n.in[kH]), W = tape.slot(n.in[kW]);
  const index_t d = h.rows, B = h.cols, m = W.rows;
  const T alpha = n.scalar, gamma = n.scalar2;
  const bool has_v = residual_has_v(n.variant);
  // What forward kept (see residual_step): A = act(Z) when act' can be read off A (tanh, sigmoid, relu,
  // identity) or V needs it for dV; D = act'(Z) otherwise. Nothing in recompute mode.
  const bool from_output = kernels::derivative_from_output(act);
  const T* D = n.saved[0];           // m x B act'(Z)
  const T* A = n.saved[1];           // m x B act(Z)
  const T* G = tape.output_grad(n);  // d x B
  if (from_output ? A == nullptr : D == nullptr) {  // recompute, bitwise as forward computed them
    T* dd = from_output ? nullptr : tape.scratch(std::size_t(m * B));
    T* a = tape.scratch(std::size_t(m * B));
    forward_pre_activation(tape, n.in[kW], n.in[kH], n.in[kB], act, gamma, dd, a);
    D = dd;
    A = a;
  }

  // dA = alpha V^T G (m x B); without V, dA = alpha G and alpha moves into the GEMMs below (scale c).
  const T* dA = G;
  T c = alpha;
  if (has_v) {
    const Slot<T> V = tape.slot(n.in[kV]);
    T* buf = tape.scratch(std::size_t(m * B));
    kernels::gemm(Trans::T, Trans::N, m, B, d, alpha, V.value, V.ld, G, B, T(0), buf, B);
    dA = buf;
    c = T(1);
    if (tape.wants_grad(n.in[kV])) {  // dV (d x m) += alpha G A^T
      auto [dV, beta] = tape.grad_target(n.in[kV]);
      kernels::gemm(Trans::N, Trans::T, d, m, B, alpha, G, B, A, B, beta, dV, m);
    }
  }
  const bool want_b = tape.wants_grad(n.in[kB]), want_w = tape.wants_grad(n.in[kW]),
             want_h = tape.wants_grad(n.in[kH]);
  if (!(want_b || want_w || want_h)) return;

  // dZ = dA ⊙ act'(Z)   (m x B; the true dZ is c times this): no transcendental function in backward
  T* dZ = tape.scratch(std::size_t(m * B));
  if (from_output)
    kernels::activation_backward_from_output(act, m, B, A, B, dA, B, T(0), dZ, B);
  else
    kernels::hadamard(m, B, dA, B, D, B, dZ, B);
  if (want_b) {  // db (m x 1) += c row_sums(dZ)
    if (c == T(1)) {
      auto [db, beta] = tape.grad_target(n.in[kB]);
      kernels::row_sums(m, B, dZ, B, beta, db);
    } else {
      T* sums = tape.scratch(std::size_t(m));
      kernels::row_sums(m, B, dZ, B, T(0), sums);
      tape.add_scaled(n.in[kB], c, sums, 1);
    }
  }
  if (want_w) {  // dW (m x d) += c gamma dZ h^T
    auto [dW, beta] = tape.grad_target(n.in[kW]);
    kernels::gemm(Trans::N, Trans::T, m, d, B, c * gamma, dZ, B, h.value, h.ld, beta, dW, d);
  }
  if (want_h) {  // dh (d x B) += G + c gamma W^T dZ: G's buffer becomes dh's when possible, then one GEMM adds
    tape.add_output_grad(n.in[kH], n, /*last_use=*/true);
    kernels::gemm(Trans::T, Trans::N, d, B, m, c * gamma, W.value, W.ld, dZ, B, T(1), tape.slot(n.in[kH]).grad, B);
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
  // so backward multiplies by D instead of evaluating act' (Z itself is never needed).
  const bool keep = record && !s.recompute;
  const bool from_output = kernels::derivative_from_output(s.act);
  T* D = (keep && !from_output) ? tape.saved_buffer(std::size_t(m * B)) : nullptr;
  T* A = (keep && (has_v || from_output)) ? tape.saved_buffer(std::size_t(m * B)) : tape.scratch(std::size_t(m * B));
  forward_pre_activation(tape, s.W.slot(), h.slot(), has_b ? s.b.slot() : kNoSlot, s.act, s.gamma, D, A);

  // out = h + alpha V A   (or h + alpha A); the GEMM reads h where it lies and writes out (no copy of h first)
  Var<T> out = tape.new_output(d, B);
  T* y = tape.slot(out).value;
  if (has_v) {
    const Slot<T> sv = tape.slot(s.V);
    kernels::GemmEpilogue<T> plus_h;
    plus_h.c_in = sh.value;
    plus_h.ld_c_in = sh.ld;
    kernels::gemm(Trans::N, Trans::N, d, B, m, s.alpha, sv.value, sv.ld, A, B, T(1), y, B, &plus_h);
  } else {
    kernels::copy(d, B, sh.value, sh.ld, y, B);
    kernels::axpy(d, B, s.alpha, A, B, y, B);
  }
  if (record) {
    Node<T>& n =
        tape.record(OpKind::residual_step, variant, out, {h, s.W, s.V, s.b}, &residual_step_backward<T>);
    n.scalar = s.alpha;
    n.scalar2 = s.gamma;
    n.saved[0] = D;  // nullptr when recomputing or when act' comes from A
    n.saved[1] = (keep && (has_v || from_output)) ? A : nullptr;
  }
  return tape.finish(OpKind::residual_step, variant, out);
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
