#include "autodiff/ops/matmul.hpp"

#include "autodiff/ops/op_support.hpp"
#include "kernels/gemm.hpp"

namespace tapelab {

namespace {

constexpr Trans flip(Trans t) { return t == Trans::N ? Trans::T : Trans::N; }

// C = op(A) op(B) with G = dL/dC (M x N):
//   ta == N:  dA (M x K)             = G op(B)^T
//   ta == T:  dA (K x M, as stored)  = op(B) G^T
//   tb == N:  dB (K x N)             = op(A)^T G
//   tb == T:  dB (N x K, as stored)  = G^T op(A)
template <class T>
void matmul_backward(Tape<T>& tape, const Node<T>& n) {
  const Trans ta = (n.variant & 2) ? Trans::T : Trans::N;
  const Trans tb = (n.variant & 1) ? Trans::T : Trans::N;
  const Slot<T>& a = tape.slot(n.in[0]);
  const Slot<T>& b = tape.slot(n.in[1]);
  const Slot<T>& c = tape.slot(n.out);
  const index_t M = c.rows, N = c.cols, K = ta == Trans::N ? a.cols : a.rows;
  const T* G = tape.output_grad(n);
  if (tape.wants_grad(n.in[0])) {
    auto [dA, beta] = tape.grad_target(n.in[0]);
    if (ta == Trans::N)
      kernels::gemm(Trans::N, flip(tb), M, K, N, T(1), G, N, b.value, b.ld, beta, dA, K);
    else
      kernels::gemm(tb, Trans::T, K, M, N, T(1), b.value, b.ld, G, N, beta, dA, M);
  }
  if (tape.wants_grad(n.in[1])) {
    auto [dB, beta] = tape.grad_target(n.in[1]);
    if (tb == Trans::N)
      kernels::gemm(flip(ta), Trans::N, K, N, M, T(1), a.value, a.ld, G, N, beta, dB, N);
    else
      kernels::gemm(Trans::T, ta, N, K, M, T(1), G, N, a.value, a.ld, beta, dB, K);
  }
}

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b, Trans ta, Trans tb) {
  const std::uint8_t variant = matmul_variant(ta, tb);
  static constexpr const char* kNames[4] = {"matmul", "matmul(N,T)", "matmul(T,N)", "matmul(T,T)"};
  const char* name = kNames[variant];
  Tape<T>& tape = ops_detail::common_tape(name, "lhs", a, ops_detail::Named<T>{"rhs", b});
  const Slot<T> sa = tape.slot(a);
  const Slot<T> sb = tape.slot(b);
  // op(a): M x K, op(b): K x N
  const index_t M = ta == Trans::N ? sa.rows : sa.cols, K = ta == Trans::N ? sa.cols : sa.rows;
  const index_t Kb = tb == Trans::N ? sb.rows : sb.cols, N = tb == Trans::N ? sb.cols : sb.rows;
  if (K != Kb)
    throw_shape_error(name, ta == Trans::N ? "lhs" : "lhs^T", M, K, tb == Trans::N ? "rhs" : "rhs^T", Kb, N,
                      "inner dimensions " + std::to_string(K) + " != " + std::to_string(Kb));
  Var<T> out = tape.new_output(M, N);
  kernels::gemm(ta, tb, M, N, K, T(1), sa.value, sa.ld, sb.value, sb.ld, T(0), tape.slot(out).value, N);
  if (tape.should_record({a, b})) tape.record(OpKind::matmul, variant, out, {a, b}, &matmul_backward<T>);
  return tape.finish(OpKind::matmul, variant, out);
}

template Var<float> matmul(const Var<float>&, const Var<float>&, Trans, Trans);
template Var<double> matmul(const Var<double>&, const Var<double>&, Trans, Trans);

}  // namespace tapelab
