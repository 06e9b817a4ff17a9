#include "nn/data.hpp"

#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace tapelab::nn {
namespace {

void normalise_columns(Matrix& m) {
  for (index_t j = 0; j < m.cols(); ++j) {
    double s = 0.0;
    for (index_t i = 0; i < m.rows(); ++i) s += m(i, j) * m(i, j);
    s = std::sqrt(s);
    if (s > 0.0)
      for (index_t i = 0; i < m.rows(); ++i) m(i, j) /= s;
  }
}

void check_positive(const char* fn, index_t n, index_t d) {
  if (n <= 0 || d <= 0)
    throw std::invalid_argument(std::string(fn) + ": n (" + std::to_string(n) + ") and d (" +
                                std::to_string(d) + ") must be positive");
}

std::string file_error(const std::string& path, const std::string& what) { return "'" + path + "': " + what; }

}  // namespace

Dataset p1_ode_data(Rng& rng, index_t n, index_t d) {
  check_positive("p1_ode_data", n, d);
  Dataset ds{Matrix(d, n), Matrix(d, n), {}};
  for (index_t j = 0; j < n; ++j)
    for (index_t i = 0; i < d; ++i) ds.x(i, j) = rng.uniform(-1.0, 1.0);
  for (index_t j = 0; j < n; ++j)
    for (index_t i = 0; i < d; ++i) {
      double z = ds.x(i, j);
      for (int t = 0; t < 100; ++t) {
        const double angle = 5.0 * std::numbers::pi * t / 100.0;
        z += 0.1 * std::tanh(std::sin(angle) * z + std::cos(angle));  // 100^{-1/2} = 0.1
      }
      ds.y(i, j) = z;
    }
  normalise_columns(ds.x);
  normalise_columns(ds.y);
  return ds;
}

Dataset p2_orthonormal_data(Rng& rng, index_t n, index_t d) {
  check_positive("p2_orthonormal_data", n, d);
  if (n > d)
    throw std::invalid_argument("p2_orthonormal_data: " + std::to_string(n) +
                                " orthonormal inputs need n <= d = " + std::to_string(d));
  Dataset ds{gaussian(rng, d, n, 1.0), Matrix(d, n), {}};
  for (index_t j = 0; j < n; ++j) {  // modified Gram-Schmidt, twice for accuracy
    for (int pass = 0; pass < 2; ++pass)
      for (index_t k = 0; k < j; ++k) {
        double dot = 0.0;
        for (index_t i = 0; i < d; ++i) dot += ds.x(i, k) * ds.x(i, j);
        for (index_t i = 0; i < d; ++i) ds.x(i, j) -= dot * ds.x(i, k);
      }
    double s = 0.0;
    for (index_t i = 0; i < d; ++i) s += ds.x(i, j) * ds.x(i, j);
    for (index_t i = 0; i < d; ++i) ds.x(i, j) /= std::sqrt(s);
  }
  Matrix u = gaussian(rng, d, n, 1.0);
  normalise_columns(u);
  for (index_t j = 0; j < n; ++j)
    for (index_t i = 0; i < d; ++i) ds.y(i, j) = ds.x(i, j) + 0.5 * u(i, j);
  return ds;
}

Dataset p4_gaussian_data(Rng& rng, index_t n, index_t d, index_t d_out) {
  check_positive("p4_gaussian_data", n, d);
  check_positive("p4_gaussian_data", n, d_out);
  Dataset ds;
  ds.x = gaussian(rng, d, n, 1.0);
  ds.y = gaussian(rng, d_out, n, 1.0);
  return ds;
}

Dataset p5_uniform_data(Rng& rng, index_t n, index_t d_in, index_t d_out) {
  check_positive("p5_uniform_data", n, d_in);
  check_positive("p5_uniform_data", n, d_out);
  Dataset ds{Matrix(d_in, n), Matrix(d_out, n), {}};
  for (index_t i = 0; i < ds.x.size(); ++i) ds.x.data()[i] = rng.uniform01();
  for (index_t i = 0; i < ds.y.size(); ++i) ds.y.data()[i] = rng.uniform01();
  return ds;
}

Matrix read_csv(const std::string& path, bool has_header) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(file_error(path, std::string("cannot open: ") + std::strerror(errno)));
  std::vector<double> values;
  std::size_t cols = 0, rows = 0, line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (has_header && line_number == 1) continue;
    if (line.empty()) continue;
    std::size_t count = 0, start = 0;
    for (;;) {
      const std::size_t comma = line.find(',', start);
      const std::string field =
          line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      ++count;
      std::size_t used = 0;
      double v = 0.0;
      try {
        v = std::stod(field, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      auto refuse = [&](const char* what) {
        throw std::runtime_error(file_error(path, "line " + std::to_string(line_number) + ", column " +
                                                      std::to_string(count) + ": '" + field + "' is not " +
                                                      what));
      };
      if (used == 0 || field.find_first_not_of(" \t", used) != std::string::npos) refuse("a number");
      // stod reads "nan" and "inf" like any number: data with them would only fail later, as a non-finite
      // loss, far from its cause.
      if (!std::isfinite(v)) refuse("a finite number");
      values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (rows == 0) cols = count;
    if (count != cols)
      throw std::runtime_error(file_error(path, "line " + std::to_string(line_number) + " has " +
                                                    std::to_string(count) + " fields but the first row has " +
                                                    std::to_string(cols)));
    ++rows;
  }
  if (rows == 0) throw std::runtime_error(file_error(path, "no data rows"));
  Matrix m(static_cast<index_t>(rows), static_cast<index_t>(cols));
  for (std::size_t i = 0; i < values.size(); ++i) m.data()[i] = values[i];
  return m;
}

IdxArray read_idx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads gzip and plain files alike
  if (f == nullptr)
    throw std::runtime_error(file_error(path, std::string("cannot open: ") + std::strerror(errno)));
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};
  auto read_exactly = [&](void* dst, std::size_t n, const std::string& what) {
    std::size_t got = 0;
    while (got < n) {
      const int r =
          gzread(f, static_cast<char*>(dst) + got, unsigned(std::min<std::size_t>(n - got, 1u << 30)));
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(f, &code);
        throw std::runtime_error(file_error(path, "corrupt gzip stream while reading " + what + ": " + msg));
      }
      if (r == 0) break;
      got += std::size_t(r);
    }
    if (got != n)
      throw std::runtime_error(file_error(path, "truncated: " + what + " needs " + std::to_string(n) +
                                                    " bytes but only " + std::to_string(got) + " remain"));
  };
  unsigned char magic[4];
  read_exactly(magic, 4, "the header");
  if (magic[0] != 0 || magic[1] != 0)
    throw std::runtime_error(
        file_error(path, "not an IDX file (the magic number must start with two zero bytes)"));
  if (magic[2] != 0x08)
    throw std::runtime_error(file_error(
        path,
        "unsupported IDX element type 0x" + std::to_string(int(magic[2])) + " (only unsigned bytes, 0x08)"));
  const int rank = magic[3];
  if (rank < 1 || rank > 4)
    throw std::runtime_error(file_error(path, "IDX rank " + std::to_string(rank) + " is outside 1..4"));
  IdxArray a;
  std::size_t total = 1;
  for (int r = 0; r < rank; ++r) {
    unsigned char b[4];
    read_exactly(b, 4, "dimension " + std::to_string(r));
    const std::uint32_t dim =
        (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    a.dims.push_back(dim);
    if (dim != 0 && total > (std::size_t(1) << 32) / dim)  // checked before multiplying: no overflow
      throw std::runtime_error(file_error(path, "implausible size: dimension " + std::to_string(r) + " = " +
                                                    std::to_string(dim) +
                                                    " makes the data larger than 4 GiB"));
    total *= dim;
  }
  a.data.resize(total);
  std::string shape;
  for (std::uint32_t d : a.dims) {
    if (!shape.empty()) shape += 'x';
    shape += std::to_string(d);
  }
  read_exactly(a.data.data(), total, "the data of shape " + shape);
  char extra;
  const int r = gzread(f, &extra, 1);
  if (r > 0) throw std::runtime_error(file_error(path, "trailing bytes after the data of shape " + shape));
  if (r < 0) {
    int code = 0;
    throw std::runtime_error(file_error(path, std::string("corrupt gzip stream: ") + gzerror(f, &code)));
  }
  return a;
}

Dataset load_idx_classification(const std::string& images_path, const std::string& labels_path) {
  const IdxArray images = read_idx(images_path), labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    throw std::runtime_error(file_error(images_path, "images must have rank 3 (n x rows x cols), got rank " +
                                                         std::to_string(images.dims.size())));
  if (labels.dims.size() != 1)
    throw std::runtime_error(
        file_error(labels_path, "labels must have rank 1, got rank " + std::to_string(labels.dims.size())));
  if (images.dims[0] != labels.dims[0])
    throw std::runtime_error("'" + images_path + "' has " + std::to_string(images.dims[0]) + " images but '" +
                             labels_path + "' has " + std::to_string(labels.dims[0]) + " labels");
  const index_t n = index_t(images.dims[0]), pixels = index_t(images.dims[1]) * index_t(images.dims[2]);
  Dataset ds;
  ds.x = Matrix(pixels, n);
  for (index_t j = 0; j < n; ++j)
    for (index_t i = 0; i < pixels; ++i)
      ds.x(i, j) = double(images.data[std::size_t(j * pixels + i)]) / 255.0;
  for (std::uint8_t l : labels.data) {
    if (l > 9)
      throw std::runtime_error(
          file_error(labels_path, "label " + std::to_string(int(l)) + " is outside 0..9"));
    ds.labels.push_back(int(l));
  }
  return ds;
}

}  // namespace tapelab::nn
