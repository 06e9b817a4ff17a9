// Every experiment runs end to end in a tiny configuration through the real command line (main_cli), writes a
// valid summary.json, and X8 matches its closed form; bad flags exit 2 with a one-line message; results do not
// depend on the thread count.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "experiments/cli.hpp"

namespace tapelab::experiments {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Runs `tapelab <args...>` in-process; returns the exit code.
int tapelab(std::vector<std::string> args) {
  args.insert(args.begin(), "tapelab");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return main_cli(int(argv.size()), argv.data());
}

std::string fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("tapelab_test_" + name);
  fs::remove_all(dir);
  return dir.string();
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs one experiment, checks the files every run must write, returns its summary.
nlohmann::json run_tiny(const std::string& id, std::vector<std::string> flags) {
  const std::string dir = fresh_dir(id);
  std::vector<std::string> args = {"run", id, "--out", dir, "--no-plots"};
  args.insert(args.end(), flags.begin(), flags.end());
  EXPECT_EQ(tapelab(args), 0) << id;
  const nlohmann::json config = read_json(dir + "/config.json");
  EXPECT_EQ(config["experiment"], id);
  EXPECT_TRUE(config["parameters"].is_object());
  EXPECT_TRUE(config.contains("simd_target"));
  const nlohmann::json summary = read_json(dir + "/summary.json");
  EXPECT_EQ(summary["experiment"], id);
  EXPECT_TRUE(summary["pass"].is_boolean());
  EXPECT_TRUE(summary["criteria"].is_array());
  EXPECT_FALSE(summary["criteria"].empty()) << id << " checked no criterion";
  for (const auto& c : summary["criteria"]) {
    EXPECT_TRUE(c["name"].is_string());
    EXPECT_TRUE(c["pass"].is_boolean());
    EXPECT_TRUE(c.contains("value") && c.contains("lo") && c.contains("hi"));
  }
  bool has_csv = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    has_csv = has_csv || e.path().extension() == ".csv";
    EXPECT_NE(e.path().extension(), ".tmp") << "a temporary file was left behind: " << e.path();
  }
  EXPECT_TRUE(has_csv) << id << " wrote no raw data";
  return summary;
}

TEST(Experiments, X1RunsAndWritesSummary) {
  run_tiny("X1", {"--depths", "5,20", "--seeds", "4", "--width", "8", "--input-dim", "8", "--bootstrap", "20"});
}
TEST(Experiments, X1RunsInFloatAndRecordsThePrecision) {
  const std::string dir = fresh_dir("X1float");
  ASSERT_EQ(tapelab({"run", "X1", "--precision", "float", "--depths", "5,20", "--seeds", "4", "--width", "8",
                     "--input-dim", "8", "--bootstrap", "20", "--no-plots", "--out", dir}),
            0);
  EXPECT_EQ(read_json(dir + "/config.json")["precision"], "float");
  EXPECT_FALSE(read_text(dir + "/networks.csv").empty());
}
TEST(Experiments, X2RunsAndWritesSummary) {
  run_tiny("X2", {"--samples", "40", "--width", "10", "--depth", "30", "--scalar-samples", "200", "--scalar-depth",
                  "50"});
}
TEST(Experiments, X5RunsAndWritesSummary) {
  run_tiny("X5", {"--depths", "4,8,16", "--inputs", "4", "--reference-steps", "64", "--resnet-reference-depth", "64"});
}
TEST(Experiments, X6RunsAndWritesSummary) {
  run_tiny("X6", {"--depths", "2,16,32", "--reference-depth", "64", "--samples", "8", "--iterations", "3",
                  "--record-at", "1,3", "--width", "4", "--hidden", "6"});
}
TEST(Experiments, X11RunsAndWritesSummary) {
  run_tiny("X11", {"--depths", "4,8", "--iterations", "20"});
}
TEST(Experiments, X12RunsAndWritesSummary) {
  run_tiny("X12", {"--depths", "4,8,16", "--reference-steps", "64", "--trichotomy-depths", "5,10",
                   "--trichotomy-seeds", "3", "--trichotomy-width", "6"});
}

TEST(Experiments, X8MatchesTheClosedForm) {
  const nlohmann::json s = run_tiny("X8", {"--depths", "2,5"});
  for (const auto& p : s["per_depth"]) {
    const int L = p["L"];
    EXPECT_NEAR(p["w_star"].get<double>(), 2.0 * L * (std::pow(2.0, 1.0 / L) - 1.0), 1e-15);
    EXPECT_LE(p["max_even_error"].get<double>(), 1e-4) << "L = " << L;
    EXPECT_EQ(p["max_odd_change"].get<double>(), 0.0) << "odd weights see a zero ReLU gradient";
    EXPECT_GE(p["relu_max_increment"].get<double>(), 2.0 * std::log(2.0));
  }
  EXPECT_TRUE(s["criteria"][0]["pass"].get<bool>());
}

// Runs `experiment` with `flags` on one thread and on two; returns the two run folders ({} if a run failed).
std::pair<std::string, std::string> run_on_one_and_two_threads(const std::string& experiment,
                                                               const std::vector<std::string>& flags,
                                                               const std::string& name) {
  std::pair<std::string, std::string> dirs{fresh_dir(name + "1"), fresh_dir(name + "2")};
  for (const auto& [threads, dir] : {std::pair{"1", dirs.first}, std::pair{"2", dirs.second}}) {
    std::vector<std::string> args = {"run", experiment, "--threads", threads, "--out", dir};
    args.insert(args.end(), flags.begin(), flags.end());
    if (tapelab(args) != 0) return {};
  }
  return dirs;
}

TEST(Experiments, ResultsDoNotDependOnTheThreadCount) {
  const auto [one, two] = run_on_one_and_two_threads(
      "X1", {"--depths", "5,20", "--seeds", "6", "--width", "8", "--input-dim", "8", "--bootstrap", "20", "--no-plots"},
      "threads");
  ASSERT_FALSE(one.empty());
  const std::string a = read_text(one + "/networks.csv"), b = read_text(two + "/networks.csv");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

// X6 trains the reference on every thread (its batch halves side by side, nn::DataParallelStep), then the other
// depths one per thread: a batch of 70 is cut in two, and every number must still not depend on the threads.
TEST(Experiments, X6DoesNotDependOnTheThreadCount) {
  const auto [one, two] = run_on_one_and_two_threads(
      "X6", {"--depths", "4,8", "--reference-depth", "32", "--iterations", "3", "--record-at", "1,3", "--width", "4",
             "--hidden", "6", "--samples", "70", "--no-plots"},
      "x6threads");
  ASSERT_FALSE(one.empty());
  // distances.csv holds E_L(t), the distance of each depth's weights to the reference's
  for (const char* file : {"/iterations.csv", "/distances.csv"}) {
    const std::string a = read_text(one + file);
    EXPECT_NE(a.find("\n8,3,"), std::string::npos) << file << " has depth 8 at t = 3";
    EXPECT_EQ(a, read_text(two + file)) << file;
  }
  // depths.csv: everything but the last column, the time per iteration (the reference's row included)
  auto without_times = [](const std::string& csv) {
    std::string out, line;
    std::istringstream in(csv);
    while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  const std::string depths = without_times(read_text(one + "/depths.csv"));
  EXPECT_NE(depths.find("\n32,"), std::string::npos);
  EXPECT_EQ(depths, without_times(read_text(two + "/depths.csv")));
}

// A run writes the inputs it used; a second run reading them back (--x, --y, --w0) reproduces it number for
// number, which is what lets another implementation be compared on the same inputs.
TEST(Experiments, TrainingRunsReproduceFromTheirOwnCsvInputs) {
  const std::string first = fresh_dir("x11_first"), second = fresh_dir("x11_second");
  ASSERT_EQ(tapelab({"run", "X11", "--depths", "8", "--iterations", "10", "--no-plots", "--out", first}), 0);
  ASSERT_EQ(tapelab({"run", "X11", "--depths", "8", "--iterations", "10", "--no-plots", "--out", second, "--seed", "99",
                     "--x", first + "/input_x.csv", "--y", first + "/input_y.csv", "--w0", first + "/initial_A_L8.csv"}),
            0);
  const std::string a = read_text(first + "/iterations.csv");
  EXPECT_NE(a.find("\n8,10,"), std::string::npos);
  EXPECT_EQ(a, read_text(second + "/iterations.csv"));

  const std::string x6a = fresh_dir("x6_first"), x6b = fresh_dir("x6_second");
  const std::vector<std::string> flags = {"--depths", "4", "--reference-depth", "8", "--iterations", "3", "--record-at",
                                          "2,3", "--width", "4", "--hidden", "6", "--samples", "5", "--no-plots"};
  std::vector<std::string> one = {"run", "X6", "--out", x6a}, two = {"run", "X6", "--out", x6b, "--seed", "5"};
  one.insert(one.end(), flags.begin(), flags.end());
  two.insert(two.end(), flags.begin(), flags.end());
  two.insert(two.end(), {"--x", x6a + "/input_x.csv", "--y", x6a + "/input_y.csv", "--w0", x6a + "/initial_W.csv"});
  ASSERT_EQ(tapelab(one), 0);
  ASSERT_EQ(tapelab(two), 0);
  EXPECT_EQ(read_text(x6a + "/iterations.csv"), read_text(x6b + "/iterations.csv"));
}

TEST(Experiments, MalformedCsvInputsAreRefusedWithTheFileNamed) {
  const std::string dir = fresh_dir("bad_csv");
  fs::create_directories(dir);
  std::ofstream(dir + "/x.csv") << "1,2,3\n4,5\n";
  std::ofstream(dir + "/y.csv") << "1,2,3\n4,5,6\n";
  // Ragged rows: data reading fails inside the run (exit 1), naming the file.
  EXPECT_EQ(tapelab({"run", "X11", "--depths", "4", "--width", "3", "--iterations", "3", "--no-plots", "--out",
                     dir + "/run", "--x", dir + "/x.csv", "--y", dir + "/y.csv"}),
            1);
  // The run's folder says why it has no summary: error.txt, with the message, beside config.json.
  EXPECT_FALSE(fs::exists(dir + "/run/summary.json"));
  EXPECT_TRUE(fs::exists(dir + "/run/config.json"));
  EXPECT_THAT(read_text(dir + "/run/error.txt"), HasSubstr("X11 failed to run: '" + dir + "/x.csv'"));
  // Rows of the wrong length for the width.
  EXPECT_EQ(tapelab({"run", "X11", "--depths", "4", "--width", "5", "--iterations", "3", "--no-plots", "--out",
                     dir + "/run2", "--x", dir + "/y.csv", "--y", dir + "/y.csv"}),
            1);
  EXPECT_THAT(read_text(dir + "/run2/error.txt"), HasSubstr("y.csv"));
}

TEST(Experiments, X5WithSaturatedWeightsFailsInItsOwnTerms) {
  // Weights of std 1e300 saturate every activation: all errors are 0 and no slope exists. The run stops with
  // exit 1 and a message about the errors and the weights (not an error from inside the log-log fit).
  const std::string dir = fresh_dir("x5_saturated");
  ::testing::internal::CaptureStderr();
  const int code =
      tapelab({"run", "X5", "--depths", "4,8", "--inputs", "4", "--reference-steps", "64",
               "--resnet-reference-depth", "64", "--weight-std", "1e300", "--no-plots", "--out", dir});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err, HasSubstr("sup error at L = 4 is 0"));
  EXPECT_THAT(err, HasSubstr("--weight-std 1e+300"));
  EXPECT_TRUE(fs::exists(dir + "/errors.csv"));  // the raw data the message points to
  EXPECT_THAT(read_text(dir + "/error.txt"), HasSubstr("sup error at L = 4 is 0"));
}

TEST(Experiments, BadFlagsExitTwo) {
  EXPECT_EQ(tapelab({"run", "X1", "--seeds", "many"}), 2);
  EXPECT_EQ(tapelab({"run", "X1", "--seed", "-5"}), 2);  // not wrapped around to 2^64 - 5
  EXPECT_EQ(tapelab({"run", "X1", "--threads", "-1"}), 2);
  EXPECT_EQ(tapelab({"run", "X6", "--eta0", "inf"}), 2);  // real-valued flags and lists: finite numbers only
  EXPECT_EQ(tapelab({"run", "X1", "--betas", "0.5,nan"}), 2);
  EXPECT_EQ(tapelab({"run", "X99"}), 2);
  EXPECT_EQ(tapelab({"run", "X1", "--depths", "100,10"}), 2);
  EXPECT_EQ(tapelab({"run", "X5", "--activation", "swish"}), 2);
  EXPECT_EQ(tapelab({"run", "X2", "--precision", "half"}), 2);
  EXPECT_EQ(tapelab({"run", "X6", "--scaling", "nature"}), 2);
  EXPECT_EQ(tapelab({"run", "X6", "--x", "/nonexistent/x.csv", "--y", "/nonexistent/y.csv"}), 2);
  EXPECT_EQ(tapelab({"run", "X12", "--depths", "3,8"}), 2);  // 3 does not divide the RK4 steps
  EXPECT_EQ(tapelab({"frobnicate"}), 2);
}

TEST(Experiments, StrictTurnsAFailIntoExitThree) {
  // One GD step cannot reach w*: the closed-form criterion fails.
  EXPECT_EQ(tapelab({"run", "X8", "--depths", "2", "--max-iterations", "1", "--no-plots", "--out", fresh_dir("strict"),
                     "--strict"}),
            3);
  EXPECT_EQ(tapelab({"run", "X8", "--depths", "2", "--max-iterations", "1", "--no-plots", "--out",
                     fresh_dir("not_strict")}),
            0);
}

TEST(Experiments, ListAndVersionExitZero) {
  EXPECT_EQ(tapelab({"list"}), 0);
  EXPECT_EQ(tapelab({"--version"}), 0);
}

}  // namespace
}  // namespace tapelab::experiments
