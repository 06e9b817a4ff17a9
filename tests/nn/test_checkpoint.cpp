// Checkpoints: a round trip restores parameters and optimiser state exactly (training continues bit for bit);
// truncated, corrupted, foreign, wrong-version and mismatched-shape files are refused with a message and
// leave the module untouched; the write is atomic (no temp file left behind).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "nn/checkpoint.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"

namespace tapelab::nn {
namespace {

using testing::HasSubstr;
namespace fs = std::filesystem;

class Checkpoint : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tapelab_nn_ckpt_" + std::to_string(::getpid()) + "_" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "net.ckpt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<unsigned char> bytes() {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void write_bytes(const std::vector<unsigned char>& b) {
    std::ofstream(path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
  fs::path dir_;
  std::string path_;
};

struct Samples {
  Matrix x, y;
};

double train(ResidualNetwork& net, Optimizer& opt, const Samples& data, int steps, long long first) {
  Tape<double> tape;
  double loss = 0;
  for (int i = 0; i < steps; ++i)
    loss = train_step(first + i, tape, net, opt, [&](Tape<double>& t) {
      return mean_squared_norm_loss(net.forward(t, data.x), t.constant(data.y));
    });
  return loss;
}

TEST_F(Checkpoint, RoundTripRestoresParametersAndAdamStateExactly) {
  Rng rng(1);
  const ResidualNetworkConfig c = ResidualNetworkConfig::p4(3, 3, 4, 3, 4);
  const Samples data{gaussian(rng, 3, 5, 1.0), gaussian(rng, 3, 5, 1.0)};
  Rng r1(7), r2(8);
  ResidualNetwork a(c, r1), b(c, r2);
  Adam adam_a(single_group(a, 0.01)), adam_b(single_group(b, 0.01));
  train(a, adam_a, data, 5, 0);
  save_checkpoint(path_, a, &adam_a);
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  load_checkpoint(path_, b, &adam_b);
  EXPECT_EQ(adam_b.steps_taken(), 5);
  for (const NamedParameter& p : a.named_parameters())
    for (index_t i = 0; i < p.parameter->value.size(); ++i)
      ASSERT_EQ(p.parameter->value.data()[i], b.parameter(p.name).value.data()[i]) << p.name;
  // Training on from the checkpoint is bit-identical to training on from the original.
  EXPECT_EQ(train(a, adam_a, data, 3, 5), train(b, adam_b, data, 3, 5));
  EXPECT_EQ(a.parameter("layers.2.V").value(1, 1), b.parameter("layers.2.V").value(1, 1));
}

TEST_F(Checkpoint, DamagedFilesAreRefusedAndNothingIsLoaded) {
  Rng rng(2);
  const ResidualNetworkConfig c = ResidualNetworkConfig::p2(3, 3);
  ResidualNetwork saved(c, rng), target(c, rng);
  save_checkpoint(path_, saved);
  const std::vector<unsigned char> good = bytes();
  const double before = target.parameter("layers.1.W").value(0, 0);
  auto expect_refused = [&](const std::vector<unsigned char>& b, const std::string& message) {
    write_bytes(b);
    EXPECT_THAT([&] { load_checkpoint(path_, target); },
                testing::ThrowsMessage<std::runtime_error>(HasSubstr(message)));
    EXPECT_EQ(target.parameter("layers.1.W").value(0, 0), before);  // untouched
  };
  auto truncated = good;
  truncated.resize(good.size() - 20);
  expect_refused(truncated, "net.ckpt': checksum mismatch");
  expect_refused(std::vector<unsigned char>(good.begin(), good.begin() + 10), "truncated: 10 bytes");
  auto flipped = good;
  flipped[good.size() / 2] ^= 1;
  expect_refused(flipped, "checksum mismatch: the file is truncated or corrupted");
  auto foreign = good;
  foreign[0] = 'X';
  expect_refused(foreign, "not a tapelab checkpoint");
  auto future = good;
  future[8] = 2;
  expect_refused(future, "format version 2, this build reads version 1");
  EXPECT_THAT([&] { load_checkpoint((dir_ / "none").string(), target); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("none': cannot open")));
}

TEST_F(Checkpoint, MismatchedShapesAndMissingStateAreRefused) {
  Rng rng(3);
  ResidualNetwork small(ResidualNetworkConfig::p2(3, 2), rng), wide(ResidualNetworkConfig::p2(4, 2), rng),
      deep(ResidualNetworkConfig::p2(3, 3), rng);
  save_checkpoint(path_, small);
  EXPECT_THAT([&] { load_checkpoint(path_, wide); },
              testing::ThrowsMessage<std::runtime_error>(
                  HasSubstr("entry 'param/layers.0.W' is 3x3 but the module's is 4x4")));
  EXPECT_THAT([&] { load_checkpoint(path_, deep); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("missing entry 'param/layers.2.W'")));
  Momentum momentum(single_group(small, 0.1), 0.9);
  EXPECT_THAT(
      [&] { load_checkpoint(path_, small, &momentum); },
      testing::ThrowsMessage<std::runtime_error>(HasSubstr("missing entry 'optim/momentum.velocity.0'")));
  save_checkpoint(path_, small, &momentum);
  EXPECT_THAT([&] { load_checkpoint(path_, small); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("was it saved with optimiser state?")));
  EXPECT_THAT([&] { save_checkpoint((dir_ / "no_such_dir" / "x.ckpt").string(), small); },
              testing::ThrowsMessage<std::runtime_error>(HasSubstr("cannot create")));
}

}  // namespace
}  // namespace tapelab::nn
