#include "experiments/csv_inputs.hpp"

#include <cstdio>
#include <stdexcept>

#include "nn/data.hpp"

namespace tapelab::experiments {

nn::Matrix read_samples_csv(const std::string& path, index_t dim, const std::string& flag) {
  const nn::Matrix rows = nn::read_csv(path);
  if (rows.cols() != dim)
    throw std::invalid_argument(flag + " " + path + ": rows have " + std::to_string(rows.cols()) +
                                " numbers, expected " + std::to_string(dim) + " (one sample per row)");
  nn::Matrix out(dim, rows.rows());
  for (index_t i = 0; i < rows.rows(); ++i)
    for (index_t j = 0; j < dim; ++j) out(j, i) = rows(i, j);
  return out;
}

nn::Dataset read_dataset_csv(const std::string& x_path, const std::string& y_path, index_t dim) {
  nn::Dataset data;
  data.x = read_samples_csv(x_path, dim, "--x");
  data.y = read_samples_csv(y_path, dim, "--y");
  if (data.x.cols() != data.y.cols())
    throw std::invalid_argument("--x has " + std::to_string(data.x.cols()) + " samples but --y has " +
                                std::to_string(data.y.cols()));
  return data;
}

nn::WeightPath read_matrix_stack_csv(const std::string& path, std::size_t count, index_t rows, index_t cols,
                                     const std::string& flag) {
  const nn::Matrix all = nn::read_csv(path);
  if (all.cols() != cols || all.rows() != index_t(count) * rows)
    throw std::invalid_argument(flag + " " + path + ": found " + std::to_string(all.rows()) + " rows of " +
                                std::to_string(all.cols()) + " numbers, expected " + std::to_string(count) + " x " +
                                std::to_string(rows) + " = " + std::to_string(index_t(count) * rows) +
                                " rows of " + std::to_string(cols));
  nn::WeightPath out(count, nn::Matrix(rows, cols));
  for (std::size_t k = 0; k < count; ++k)
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) out[k](i, j) = all(index_t(k) * rows + i, j);
  return out;
}

namespace {

void append_number(std::string& out, double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

// One CSV line of n numbers, value(j) for j = 0..n-1.
template <class Value>
void append_line(std::string& out, index_t n, const Value& value) {
  for (index_t j = 0; j < n; ++j) {
    if (j) out += ',';
    append_number(out, value(j));
  }
  out += '\n';
}

}  // namespace

std::string samples_csv(const nn::Matrix& x) {
  std::string out;
  for (index_t s = 0; s < x.cols(); ++s) append_line(out, x.rows(), [&](index_t i) { return x(i, s); });
  return out;
}

std::string matrix_stack_csv(const nn::WeightPath& path) {
  std::string out;
  for (const nn::Matrix& m : path)
    for (index_t i = 0; i < m.rows(); ++i) append_line(out, m.cols(), [&](index_t j) { return m(i, j); });
  return out;
}

}  // namespace tapelab::experiments
