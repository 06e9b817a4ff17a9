#include "experiments/cli.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "experiments/experiment.hpp"
#include "kernels/target.hpp"
#include "nn/atomic_file.hpp"

namespace tapelab::experiments {
namespace {

constexpr int kExitFailedToRun = 1, kExitBadInput = 2, kExitStrictFail = 3;

// The flags every `run` subcommand has.
struct CommonFlags {
  std::string out;
  std::uint64_t seed = 0;
  int threads = 0;
  bool quick = false, strict = false, no_plots = false;

  void add_to(CLI::App& app) {
    app.add_option("--out", out, "output folder (default results/<experiment>-<UTC timestamp>)");
    // A minus sign is refused: CLI11 would read "-5" into the unsigned seed as 2^64 - 5.
    const CLI::Validator no_minus(
        [](std::string& v) {
          return v.find('-') == std::string::npos ? std::string()
                                                  : "a seed is a non-negative integer, got " + v;
        },
        "");
    app.add_option("--seed", seed, "base random seed (every network, sample and data set derives from it)")
        ->capture_default_str()
        ->check(no_minus);
    app.add_option("--threads", threads, "threads for the sweep points (0: all cores); results do not depend on it")
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
    app.add_flag("--quick", quick, "the documented reduced configuration (seconds instead of minutes)");
    app.add_flag("--strict", strict, "exit with code 3 if a criterion fails");
    app.add_flag("--no-plots", no_plots, "do not run experiments/plot.py");
  }
};

struct ExperimentCommand {
  std::unique_ptr<Experiment> experiment;
  CLI::App* app;
  std::unique_ptr<Flags> flags;
  CommonFlags common;
};

std::string joined_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}

// Runs one experiment into `out_dir`; returns 0 (completed), or kExitFailedToRun after printing why. A run that
// fails after its folder was made leaves error.txt there beside config.json (and whatever raw data it wrote),
// so that the folder says why it has no summary.json.
int run_experiment(ExperimentCommand& cmd, const CommonFlags& common, const std::string& out_dir,
                   const std::string& command_line, bool& passed) {
  const ExperimentInfo info = cmd.experiment->info();
  RunOptions options{out_dir, common.seed, common.threads, common.quick, !common.no_plots, command_line};
  std::optional<Run> run;
  try {
    run.emplace(info, options, cmd.flags->values());
    std::cerr << info.id << ": " << info.title << " -> " << run->dir() << "\n";
    cmd.experiment->run(*run);
    run->finish();
    passed = run->passed();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tapelab: " << info.id << " failed to run: " << e.what() << "\n";
    passed = false;
    if (run.has_value()) {
      try {
        run->write_text("error.txt", info.id + " failed to run: " + e.what() + "\n");
      } catch (const std::exception& e2) {  // the first error is the one to report; this one only adds
        std::cerr << "tapelab: could not write " << run->path("error.txt") << ": " << e2.what() << "\n";
      }
    }
    return kExitFailedToRun;
  }
}

void print_list(const std::vector<ExperimentCommand>& commands) {
  for (const ExperimentCommand& c : commands) {
    const ExperimentInfo i = c.experiment->info();
    std::printf("%-4s %s  [%s]\n     %s\n", i.id.c_str(), i.title.c_str(), i.paper.c_str(), i.claim.c_str());
  }
  std::printf("\nRun one with `tapelab run <id> [--quick]` (`tapelab run <id> --help` for its flags), or all with "
              "`tapelab run all --quick`.\n");
}

}  // namespace

int main_cli(int argc, char** argv) {
  CLI::App app{"tapelab: checks theorems about very deep residual networks, numerically (papers.md section 7)",
               "tapelab"};
  app.set_version_flag("--version", [] { return version_string(); });
  app.require_subcommand(1);
  CLI::App* list = app.add_subcommand("list", "each experiment, the paper and the claim it checks");
  CLI::App* run = app.add_subcommand("run", "run one experiment (or `all`)");
  run->require_subcommand(1);

  std::vector<ExperimentCommand> commands;
  for (auto& e : make_all_experiments()) {
    const ExperimentInfo info = e->info();
    ExperimentCommand c;
    c.app = run->add_subcommand(info.id, info.title + " [" + info.paper + "]")->ignore_case();
    c.app->footer(info.claim);
    c.flags = std::make_unique<Flags>(*c.app);
    e->add_flags(*c.flags);
    c.experiment = std::move(e);
    commands.push_back(std::move(c));
  }
  for (ExperimentCommand& c : commands) c.common.add_to(*c.app);
  CommonFlags all_common;
  CLI::App* all = run->add_subcommand("all", "every experiment in turn, with its defaults (or --quick values)")
                      ->ignore_case();
  all_common.add_to(*all);

  // Unknown command or experiment names get a message that names the known ones (CLI11 would only say that a
  // subcommand is required).
  if (argc >= 2 && argv[1][0] != '-' && std::string(argv[1]) != "list" && std::string(argv[1]) != "run") {
    std::cerr << "tapelab: unknown command '" << argv[1] << "' (commands: list, run; see tapelab --help)\n";
    return kExitBadInput;
  }
  if (argc >= 3 && std::string(argv[1]) == "run" && argv[2][0] != '-') {
    std::string known = "all";
    bool found = CLI::detail::to_lower(argv[2]) == "all";
    for (const ExperimentCommand& c : commands) {
      known += " " + c.experiment->info().id;
      found = found || CLI::detail::to_lower(argv[2]) == CLI::detail::to_lower(c.experiment->info().id);
    }
    if (!found) {
      std::cerr << "tapelab: unknown experiment '" << argv[2] << "' (one of: " << known << "; see tapelab list)\n";
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "tapelab: " << e.what() << " (see tapelab --help)\n";
    return kExitBadInput;
  }

  if (list->parsed()) {
    print_list(commands);
    return 0;
  }
  const std::string command_line = joined_command_line(argc, argv);
  // The chosen experiments with their flags final (quick values applied, values validated).
  std::vector<ExperimentCommand*> chosen;
  const CommonFlags* common = &all_common;
  for (ExperimentCommand& c : commands)
    if (c.app->parsed() || all->parsed()) {
      chosen.push_back(&c);
      if (c.app->parsed()) common = &c.common;
    }
  for (ExperimentCommand* c : chosen) {
    if (common->quick) c->flags->apply_quick();
    try {
      c->experiment->validate();
    } catch (const std::invalid_argument& e) {
      std::cerr << "tapelab: run " << c->experiment->info().id << ": " << e.what() << "\n";
      return kExitBadInput;
    }
  }
  if (common->threads > 0) {
    omp_set_num_threads(common->threads);
    kernels::set_num_threads(common->threads);
  }

  if (!all->parsed()) {
    bool passed = false;
    const int code = run_experiment(*chosen.front(), *common, common->out, command_line, passed);
    if (code != 0) return code;
    return (!passed && common->strict) ? kExitStrictFail : 0;
  }

  const std::string root = common->out.empty() ? default_output_dir("all") : common->out;
  int code = 0;
  bool all_passed = true;
  nlohmann::json overview = nlohmann::json::array();
  for (ExperimentCommand* c : chosen) {
    bool passed = false;
    const std::string id = c->experiment->info().id;
    const int r = run_experiment(*c, *common, root + "/" + id, command_line, passed);
    if (r != 0) code = r;
    all_passed = all_passed && passed;
    overview.push_back({{"experiment", id}, {"ran", r == 0}, {"pass", passed}, {"folder", id}});
  }
  nn::write_file_atomically(root + "/summary.json",
                            nlohmann::json{{"experiments", overview}, {"pass", all_passed}}.dump(2) + "\n");
  std::cout << "\nAll experiments:";
  for (const auto& o : overview)
    std::cout << "  " << o["experiment"].get<std::string>() << " "
              << (!o["ran"].get<bool>() ? "ERROR" : o["pass"].get<bool>() ? "PASS" : "FAIL");
  std::cout << "\nResults and plots: " << root << "/<experiment>/ (summary.json, *.csv, *.png)\n";
  if (code != 0) return code;
  return (!all_passed && common->strict) ? kExitStrictFail : 0;
}

}  // namespace tapelab::experiments
