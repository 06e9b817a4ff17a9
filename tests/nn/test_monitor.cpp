// Monitor: the per-iteration observables on weights whose answer is known, the schedule, the fixed schema of
// the CSV and JSON-lines files, and the atomic write (temp file, renamed at close).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "nn/monitor.hpp"
#include "nn/residual_network.hpp"

namespace tapelab::nn {
namespace {

using testing::HasSubstr;
namespace fs = std::filesystem;

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("tapelab_nn_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(SpectralNorm, DiagonalAndRankOne) {
  const Tensor<double> d{{3, 0, 0}, {0, -5, 0}, {0, 0, 1}};
  EXPECT_NEAR(spectral_norm(d), 5.0, 1e-10);
  const Tensor<double> r{{1 * 2, 1 * 1}, {2 * 2, 2 * 1}, {-2 * 2, -2 * 1}};  // u v^T, u = (1,2,-2), v = (2,1)
  EXPECT_NEAR(spectral_norm(r), 3.0 * std::sqrt(5.0), 1e-10);
  EXPECT_EQ(spectral_norm(Tensor<double>(2, 2)), 0.0);
}

TEST(Monitor, CheapObservablesOnKnownWeights) {
  Rng rng(1);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 3), rng);
  net.set_layer_weights(
      "W", {Tensor<double>{{1, 0}, {0, 0}}, Tensor<double>{{1, 0}, {0, 0}}, Tensor<double>{{0, 0}, {0, 0}}});
  Monitor monitor(net, {});
  ASSERT_EQ(monitor.depth(), 3u);
  net.parameter("layers.0.W").grad(0, 0) = 3.0;
  net.parameter("layers.2.W").grad(1, 1) = 4.0;
  const MonitorRecord& r0 = monitor.record(0, 2.0);
  EXPECT_DOUBLE_EQ(r0.grad_norm, 5.0);
  EXPECT_DOUBLE_EQ(r0.pl_ratio, 25.0 / 2.0);
  EXPECT_DOUBLE_EQ(r0.max_weight_norm, 1.0);
  EXPECT_DOUBLE_EQ(r0.max_distance_to_init, 0.0);
  EXPECT_DOUBLE_EQ(r0.max_increment, 1.0);
  EXPECT_DOUBLE_EQ(r0.max_increment_times_L, 3.0);
  ASSERT_TRUE(r0.quadratic_variation.has_value());  // iteration 0 is on the schedule
  EXPECT_DOUBLE_EQ(*r0.quadratic_variation, 1.0);
  EXPECT_DOUBLE_EQ(*r0.p_variation, 1.0);
  EXPECT_DOUBLE_EQ(*r0.max_spectral_norm, 1.0);
  EXPECT_FALSE(r0.holder_exponent.has_value());  // depth < 16
  net.parameter("layers.1.W").value(1, 0) = 2.0;
  const MonitorRecord& r3 = monitor.record(3, 1.0);
  EXPECT_DOUBLE_EQ(r3.max_distance_to_init, 2.0);
  EXPECT_DOUBLE_EQ(r3.max_increment, std::sqrt(5.0));
  EXPECT_FALSE(r3.quadratic_variation.has_value());  // 3 is not a power of two
}

TEST(Monitor, ScheduleIsLogSpacedPlusEveryN) {
  Rng rng(2);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 2), rng);
  MonitorOptions o;
  o.expensive_every = 10;
  Monitor m(net, o);
  std::vector<long long> on;
  for (long long it = 0; it <= 33; ++it)
    if (m.is_expensive_iteration(it)) on.push_back(it);
  EXPECT_EQ(on, (std::vector<long long>{0, 1, 2, 4, 8, 10, 16, 20, 30, 32}));
}

TEST(Monitor, HiddenStateRatiosFromTheNetwork) {
  Rng rng(3);
  ResidualNetwork net(ResidualNetworkConfig::p5_res3(3, 4, 1, 20, 0.5), rng);
  const Matrix x = gaussian(rng, 3, 2, 1.0);
  Tape<double> tape;
  tape.backward(sum(net.forward(tape, x, true)));
  const auto hs = net.hidden_states(), gs = net.hidden_gradients();
  Monitor monitor(net, {});
  const MonitorRecord& r = monitor.record(0, 1.0, &hs, &gs);
  double num = 0, den = 0, g0 = 0, gL = 0;
  for (index_t i = 0; i < hs[0].size(); ++i) {
    num += std::pow(hs.back().data()[i] - hs[0].data()[i], 2);
    den += std::pow(hs[0].data()[i], 2);
    g0 += std::pow(gs[0].data()[i], 2);
    gL += std::pow(gs.back().data()[i], 2);
  }
  EXPECT_NEAR(*r.hidden_growth, std::sqrt(num / den), 1e-14);
  EXPECT_NEAR(*r.gradient_ratio, std::sqrt(g0 / gL), 1e-14);
  EXPECT_TRUE(r.holder_exponent.has_value());  // depth 20 >= 16
}

TEST(Monitor, CsvFileHasTheFixedSchemaAndAppearsOnlyAtClose) {
  const fs::path dir = temp_dir("csv");
  const fs::path path = dir / "run.csv";
  Rng rng(4);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 3), rng);
  {
    MonitorOptions o;
    o.path = path.string();
    o.per_layer = true;
    Monitor m(net, o);
    for (int it = 0; it < 4; ++it) m.record(it, 1.0);
    EXPECT_FALSE(fs::exists(path));  // still under run.csv.tmp
    EXPECT_TRUE(fs::exists(path.string() + ".tmp"));
    m.close();
  }
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(
      lines[0],
      "iteration,loss,grad_norm,pl_ratio,max_weight_norm,max_distance_to_init,max_increment,"
      "max_increment_times_L,max_spectral_norm,quadratic_variation,p_variation,holder_exponent,hidden_growth,"
      "gradient_ratio,layer_weight_norms,layer_distances_to_init");
  EXPECT_THAT(lines[4], testing::StartsWith("3,1,0,0,"));
  EXPECT_THAT(lines[4], HasSubstr(",,,,,,"));          // the scheduled columns are empty at iteration 3
  EXPECT_THAT(lines[4], testing::EndsWith(",0;0;0"));  // per-layer distances to init
  fs::remove_all(dir);
}

TEST(Monitor, JsonLinesUseNullForUnscheduledValues) {
  const fs::path dir = temp_dir("jsonl");
  const fs::path path = dir / "run.jsonl";
  Rng rng(5);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 3), rng);
  MonitorOptions o;
  o.path = path.string();
  o.format = MonitorFormat::json_lines;
  {
    Monitor m(net, o);
    m.record(0, 0.5);
    m.record(3, 0.25);
  }  // the destructor closes
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], testing::StartsWith("{\"iteration\":0,\"loss\":0.5,"));
  EXPECT_THAT(lines[0], testing::Not(HasSubstr("\"p_variation\":null")));
  EXPECT_THAT(lines[1], HasSubstr("\"p_variation\":null,\"holder_exponent\":null"));
  EXPECT_THAT(lines[1], testing::EndsWith("\"gradient_ratio\":null}"));
  fs::remove_all(dir);
}

TEST(Monitor, UnwritablePathIsAnErrorNamingIt) {
  Rng rng(6);
  ResidualNetwork net(ResidualNetworkConfig::p2(2, 2), rng);
  MonitorOptions o;
  o.path = "/nonexistent_dir_tapelab/run.csv";
  EXPECT_THAT([&] { Monitor m(net, o); }, testing::ThrowsMessage<std::runtime_error>(
                                              HasSubstr("'/nonexistent_dir_tapelab/run.csv.tmp'")));
}

}  // namespace
}  // namespace tapelab::nn
