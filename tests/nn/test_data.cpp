// Data: the synthetic generators' defining properties; CSV and IDX readers on small files written here, and
// every error path (missing, bad magic, truncated, corrupt gzip, ragged CSV, non-number) naming the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "nn/data.hpp"

namespace tapelab::nn {
namespace {

using testing::HasSubstr;
namespace fs = std::filesystem;

class DataFiles : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tapelab_nn_data_" + std::to_string(::getpid()) + "_" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::vector<unsigned char>& bytes) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return p;
  }
  std::string write_gz(const std::string& name, const std::vector<unsigned char>& bytes) {
    const std::string p = (dir_ / name).string();
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
    return p;
  }
  std::string write_text(const std::string& name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

// IDX: 2 images of 2x3 pixels, and 2 labels.
std::vector<unsigned char> idx_images() {
  return {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6};
}
std::vector<unsigned char> idx_labels() { return {0, 0, 8, 1, 0, 0, 0, 2, 7, 3}; }

TEST_F(DataFiles, IdxPlainAndGzipReadTheSame) {
  const IdxArray plain = read_idx(write("img.idx", idx_images()));
  const IdxArray gz = read_idx(write_gz("img.idx.gz", idx_images()));
  EXPECT_EQ(plain.dims, (std::vector<std::uint32_t>{2, 2, 3}));
  EXPECT_EQ(plain.data, gz.data);
  EXPECT_EQ(gz.data[4], 204);
  const Dataset ds = load_idx_classification(write_gz("i.gz", idx_images()), write("l.idx", idx_labels()));
  EXPECT_EQ(ds.x.rows(), 6);
  EXPECT_EQ(ds.x.cols(), 2);
  EXPECT_DOUBLE_EQ(ds.x(1, 0), 0.2);  // 51 / 255
  EXPECT_DOUBLE_EQ(ds.x(5, 1), 6.0 / 255);
  EXPECT_EQ(ds.labels, (std::vector<int>{7, 3}));
}

TEST_F(DataFiles, IdxErrorsNameTheFileAndTheProblem) {
  EXPECT_THAT([&] { read_idx((dir_ / "missing.idx").string()); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("missing.idx': cannot open")));
  auto bad_magic = idx_images();
  bad_magic[0] = 0x1f;
  EXPECT_THAT([&] { read_idx(write("magic.idx", bad_magic)); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("magic.idx': not an IDX file")));
  auto wrong_type = idx_images();
  wrong_type[2] = 0x0d;
  EXPECT_THAT([&] { read_idx(write("float.idx", wrong_type)); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("unsupported IDX element type")));
  auto truncated = idx_images();
  truncated.resize(truncated.size() - 2);
  EXPECT_THAT([&] { read_idx(write("short.idx", truncated)); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr(
                  "short.idx': truncated: the data of shape 2x2x3 needs 12 bytes but only 10 remain")));
  EXPECT_THAT([&] { read_idx(write_gz("short.idx.gz", truncated)); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("short.idx.gz': truncated")));
  EXPECT_THAT(
      [&] {
        read_idx(write("huge.idx", {0, 0, 8, 2, 255, 255, 255, 255, 255, 255, 255, 255}));
      },
      testing::ThrowsMessage<std::runtime_error>(HasSubstr("huge.idx': implausible size")));
  auto trailing = idx_images();
  trailing.push_back(9);
  EXPECT_THAT([&] { read_idx(write("long.idx", trailing)); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("trailing bytes")));
  // A gzip file whose compressed body is damaged.
  const std::string gz = write_gz("corrupt.gz", std::vector<unsigned char>(4000, 7));
  std::vector<unsigned char> bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t i = 12; i < bytes.size() - 8; ++i) bytes[i] ^= 0x5a;
  EXPECT_THAT([&] { read_idx(write("corrupt.gz", bytes)); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("corrupt.gz': corrupt gzip stream")));
  EXPECT_THAT(
      [&] {
        load_idx_classification(write("i.idx", idx_images()),
                                write("l3.idx", {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3}));
      },
      testing::ThrowsMessage<std::runtime_error>(HasSubstr("has 2 images but")));
}

// The real Fashion-MNIST test set from Debian's dataset-fashion-mnist (scripts/bootstrap.sh installs it): 10,000
// gzip-compressed 28 x 28 images, 1,000 of each of the 10 classes. Skipped where the package is absent.
TEST(FashionMnist, DebianTestSetLoadsWithBalancedLabels) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(dir + "t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const Dataset data = load_idx_classification(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(data.size(), 10000);
  ASSERT_EQ(data.x.rows(), 28 * 28);
  std::vector<int> per_class(10, 0);
  for (int label : data.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LE(label, 9);
    ++per_class[std::size_t(label)];
  }
  for (int count : per_class) EXPECT_EQ(count, 1000);
  double lo = 1, hi = 0;
  for (index_t j = 0; j < data.size(); ++j)
    for (index_t i = 0; i < data.x.rows(); ++i) {
      lo = std::min(lo, data.x(i, j));
      hi = std::max(hi, data.x(i, j));
    }
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
}

TEST_F(DataFiles, CsvReadsNumbersAndRejectsBadRows) {
  const Matrix m = read_csv(write_text("ok.csv", "a,b,c\n1,2.5,-3\r\n4e-1, 5,6\n"), true);
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 3);
  EXPECT_DOUBLE_EQ(m(0, 1), 2.5);
  EXPECT_DOUBLE_EQ(m(1, 0), 0.4);
  EXPECT_THAT([&] { read_csv(write_text("ragged.csv", "1,2\n3\n")); },
              testing::ThrowsMessage<std::runtime_error>(
                  HasSubstr("ragged.csv': line 2 has 1 fields but the first row has 2")));
  EXPECT_THAT([&] { read_csv(write_text("word.csv", "1,2\n3,x4\n")); },
              testing::ThrowsMessage<std::runtime_error>(
                  HasSubstr("word.csv': line 2, column 2: 'x4' is not a number")));
  EXPECT_THAT([&] { read_csv(write_text("nan.csv", "1,2\n3,nan\n")); },
              testing::ThrowsMessage<std::runtime_error>(
                  HasSubstr("nan.csv': line 2, column 2: 'nan' is not a finite number")));
  EXPECT_THAT(
      [&] { read_csv(write_text("inf.csv", "-inf,2\n")); },
      testing::ThrowsMessage<std::runtime_error>(HasSubstr("line 1, column 1: '-inf' is not a finite")));
  EXPECT_THAT([&] { read_csv(write_text("empty.csv", "h\n"), true); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("empty.csv': no data rows")));
  EXPECT_THAT([&] { read_csv((dir_ / "none.csv").string()); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("none.csv': cannot open")));
}

TEST(Generators, P1OdeDataIsNormalisedAndFollowsTheEulerScheme) {
  Rng rng(1);
  const Dataset ds = p1_ode_data(rng, 5, 10);
  ASSERT_EQ(ds.x.rows(), 10);
  for (index_t j = 0; j < 5; ++j) {
    double nx = 0, ny = 0;
    for (index_t i = 0; i < 10; ++i) nx += ds.x(i, j) * ds.x(i, j), ny += ds.y(i, j) * ds.y(i, j);
    EXPECT_NEAR(nx, 1.0, 1e-12);
    EXPECT_NEAR(ny, 1.0, 1e-12);
  }
  // Redo sample 0 by hand from the same draws.
  Rng again(1);
  std::vector<double> x(10), z(10);
  double nx = 0, nz = 0;
  for (int i = 0; i < 10; ++i) x[std::size_t(i)] = again.uniform(-1, 1);
  for (int i = 0; i < 10; ++i) {
    double v = x[std::size_t(i)];
    for (int t = 0; t < 100; ++t)
      v += 0.1 *
           std::tanh(std::sin(5 * std::numbers::pi * t / 100) * v + std::cos(5 * std::numbers::pi * t / 100));
    z[std::size_t(i)] = v;
    nx += x[std::size_t(i)] * x[std::size_t(i)];
    nz += v * v;
  }
  EXPECT_NEAR(ds.x(3, 0), x[3] / std::sqrt(nx), 1e-14);
  EXPECT_NEAR(ds.y(3, 0), z[3] / std::sqrt(nz), 1e-14);
}

TEST(Generators, P2InputsAreOrthonormalAndTargetsHalfAUnitAway) {
  Rng rng(2);
  const Dataset ds = p2_orthonormal_data(rng, 8, 16);
  for (index_t a = 0; a < 8; ++a) {
    double dist = 0;
    for (index_t i = 0; i < 16; ++i) dist += std::pow(ds.y(i, a) - ds.x(i, a), 2);
    EXPECT_NEAR(std::sqrt(dist), 0.5, 1e-12);
    for (index_t b = 0; b < 8; ++b) {
      double dot = 0;
      for (index_t i = 0; i < 16; ++i) dot += ds.x(i, a) * ds.x(i, b);
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-12);
    }
  }
  EXPECT_THROW(p2_orthonormal_data(rng, 17, 16), std::invalid_argument);
}

TEST(Generators, P4GaussianAndP5UniformShapesAndRanges) {
  Rng rng(3);
  const Dataset g = p4_gaussian_data(rng, 100, 16, 4);
  EXPECT_EQ(g.x.rows(), 16);
  EXPECT_EQ(g.y.rows(), 4);
  EXPECT_EQ(g.size(), 100);
  const Dataset u = p5_uniform_data(rng, 50, 64, 1);
  for (index_t i = 0; i < u.x.size(); ++i) {
    ASSERT_GE(u.x.data()[i], 0.0);
    ASSERT_LT(u.x.data()[i], 1.0);
  }
  EXPECT_EQ(u.y.rows(), 1);
}

}  // namespace
}  // namespace tapelab::nn
