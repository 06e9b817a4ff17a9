#pragma once
// Shared by bench_autodiff.cpp (tapelab rows) and bench_autodiff_libtorch.cpp (libtorch rows, built only when
// find_package(Torch) succeeds): the training-step model both implement, and its FLOP count.
//
//   h_0 = A x,  h_{k+1} = h_k + (1/L) V_k tanh(W_k h_k + b_k),  y = C h_L,  loss = MSE(y, target), plain SGD
//   x: d_in x batch, A: d x d_in, W_k, V_k: d x d, b_k: d x 1, C: d_out x d, d_in = d_out = 8, batch = 256
namespace tapelab::bench {

inline constexpr long kTrainDio = 8;
inline constexpr long kTrainBatch = 256;
inline constexpr double kTrainLearningRate = 1e-3;

// Multiply-adds x 2 of the GEMMs: forward, and two backward GEMMs per forward GEMM (dW and dX) except the
// input layer, whose input x needs no gradient.
inline double train_step_flops(long d, long L) {
  const double B = kTrainBatch, io = kTrainDio;
  const double forward = 2 * d * io * B + L * 2.0 * (2.0 * d * d * B) + 2 * io * d * B;
  return 3 * forward - 2 * d * io * B;
}

// Experiment X6's network (P4 with paper scaling, papers.md 4): q = d = 16 wide, m = 32 hidden, GELU (erf form),
// identity embeddings (frozen), n = 100 Gaussian samples, full-batch GD on every W_k, V_k with learning rate
// 0.01 L; W_k = W ~ N(0, 1) for every k, V_k = 0 at the start.
//   h_0 = x,  h_{k+1} = h_k + V_k gelu(W_k h_k / sqrt(q)) / (L sqrt(m)),  loss = (1/n) sum_i |h_L(x_i) - y_i|^2
inline constexpr long kP4Width = 16;
inline constexpr long kP4Hidden = 32;
inline constexpr long kP4Samples = 100;
inline constexpr double kP4LearningRatePerLayer = 0.01;

// Multiply-adds x 2 of one GD iteration: 6 GEMMs of q m n per layer (forward W h, V A; backward V^T G, G A^T,
// dZ h^T, W^T dZ).
inline double p4_step_flops(long L) { return double(L) * 6 * 2 * kP4Width * kP4Hidden * kP4Samples; }

#ifdef TAPELAB_HAVE_LIBTORCH
// Registers BM_P4Step/libtorch/<f32|f64>/<L>.
void register_libtorch_p4_step(bool f64, long L);
// Registers BM_TrainStep/libtorch/<f32|f64>/<d>/<L>.
void register_libtorch_train_step(bool f64, long d, long L);
// Registers BM_TapeOverhead/libtorch/... (a tiny forward+backward, for scale).
void register_libtorch_overhead();
#endif

}  // namespace tapelab::bench
