#pragma once
// Data: the papers' synthetic generators, and readers for CSV and IDX ((Fashion-)MNIST, gzip or not).
// Layout: one column per sample (x is d x n, y is d' x n), as everywhere in tapelab.
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/tensor.hpp"
#include "nn/init.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {

struct Dataset {
  Matrix x;                 // d x n
  Matrix y;                 // d' x n (empty when only labels)
  std::vector<int> labels;  // n class labels (classification data), else empty
  index_t size() const { return x.cols(); }
};

// P1 1.2 synthetic "ODE" data: x ~ U(-1, 1)^d; z_0 = x, z_{t+1} = z_t + 100^{-1/2} tanh(sin(5πt/100) z_t +
// cos(5πt/100)) for t = 0..99, y = z_100; then x and y each L2-normalised per sample.
Dataset p1_ode_data(Rng& rng, index_t n, index_t d = 10);
// P2 / X11 (papers.md 7): n <= d orthonormal inputs (Gram-Schmidt of Gaussian vectors) and targets
// y_i = x_i + 0.5 u_i, u_i a random unit vector.
Dataset p2_orthonormal_data(Rng& rng, index_t n, index_t d);
// P4 4.5: x_i, y_i i.i.d. N(0, I).
Dataset p4_gaussian_data(Rng& rng, index_t n, index_t d, index_t d_out);
// P5 5.4: x ~ U[0, 1]^{d_in}, y ~ U[0, 1]^{d_out}.
Dataset p5_uniform_data(Rng& rng, index_t n, index_t d_in, index_t d_out);

// CSV of numbers: one matrix row per line, comma-separated, optional header line skipped. Errors name the
// file and the line (and column) at fault: unreadable file, a non-number or a non-finite one (nan, inf), a
// row of another length, no rows.
Matrix read_csv(const std::string& path, bool has_header = false);

// IDX file (LeCun's MNIST format), unsigned-byte data only, plain or gzip-compressed (zlib reads both).
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};
// Errors name the file and the problem: cannot open, bad magic, unsupported type, truncated (expected and
// read byte counts), trailing bytes, corrupt gzip stream.
IdxArray read_idx(const std::string& path);
// Images (n x rows x cols) and labels (n) of (Fashion-)MNIST: x is (rows*cols) x n scaled to [0, 1], labels
// in 0..9. Mismatched counts are an error naming both files.
Dataset load_idx_classification(const std::string& images_path, const std::string& labels_path);

}  // namespace tapelab::nn
