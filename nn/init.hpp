#pragma once
// Initialisations of single matrices and of whole weight paths k -> W_k (papers.md sections 1.1, 4.2, 5.1,
// 5.2 and 6.8). Every function draws from the one Rng passed in, in a fixed documented order, so the same
// seed gives the same weights. Matrices are Tensor<double> (default precision, papers.md: theorem checks
// need it).
#include <cstddef>
#include <vector>

#include "autodiff/tensor.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {

using Matrix = Tensor<double>;
using WeightPath = std::vector<Matrix>;  // W_0 .. W_{L-1}, all rows x cols

// ---- single matrices (entries drawn row-major) ----------------------------------------------------------
Matrix zeros(index_t rows, index_t cols);
// Entries i.i.d. N(0, std^2).
Matrix gaussian(Rng& rng, index_t rows, index_t cols, double std);
// Entries i.i.d. U[-bound, bound] (variance bound^2 / 3).
Matrix uniform(Rng& rng, index_t rows, index_t cols, double bound);
// Entries i.i.d. U[-sqrt(3 v), sqrt(3 v)]: variance v.
Matrix uniform_with_variance(Rng& rng, index_t rows, index_t cols, double variance);
// Fan-in scalings: std 1/sqrt(fan_in) (Gaussian), bound sqrt(3/fan_in) (uniform, P5 5.1 / PyTorch default),
// both variance 1/fan_in.
double fan_in_std(index_t fan_in);
double fan_in_uniform_bound(index_t fan_in);
// The identity-like embeddings of P4 4.2: A = (I_d; 0) is q x d, B = (0, I_d') is d' x q.
Matrix input_embedding_identity(index_t q, index_t d);
Matrix output_embedding_identity(index_t d_out, index_t q);

// ---- weight paths over the layer index k = 0..L-1 -------------------------------------------------------
// i.i.d. over k and entries (drawn layer by layer, row-major in each layer).
WeightPath iid_gaussian_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double std);
WeightPath iid_uniform_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double bound);
WeightPath zero_path(std::size_t depth, index_t rows, index_t cols);
// Weight-tied (P4 4.2: W_k = W for all k): one Gaussian draw shared by every layer.
WeightPath tied_gaussian_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double std);

// Fractional Gaussian noise (P5 5.2, papers.md 6.8): each entry (i, j) is an independent fGn sequence over k
// with unit-variance steps and autocovariance gamma(k) = (|k-1|^{2H} - 2|k|^{2H} + |k+1|^{2H}) / 2, times
// `scale` (P5: 1/sqrt(width)). H = 1/2 gives i.i.d. N(0, scale^2).
WeightPath fgn_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double hurst, double scale);
// One fGn sequence of length n (exact; see fgn_sequences in init.cpp).
std::vector<double> sample_fgn(Rng& rng, std::size_t n, double hurst);
std::vector<double> fgn_autocovariance(std::size_t n, double hurst);

// Gaussian process with RBF kernel exp(-(s - s')^2 / (2 length_scale^2)) at the given positions (exact:
// Cholesky with jitter 1e-10 on the diagonal, papers.md 6.8). One sample.
std::vector<double> sample_gp_rbf(Rng& rng, const std::vector<double>& positions, double length_scale);
// P4 4.2 smooth init: W_k = std * GP(s_k), s_k = k / L, k = 0..L-1, one GP per entry.
WeightPath gp_rbf_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double length_scale,
                       double std);
// P5 5.2 "rbf" init: a GP per entry on s in linspace(0, 1, L + 1), its increments over k, divided by
// (mean over k of the std over entries) * sqrt(width). P5's kernel exp(-(s-s')^2 / (2 * 0.01)) is
// length_scale = 0.1.
WeightPath gp_rbf_increment_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double length_scale,
                                 index_t width);

}  // namespace tapelab::nn
