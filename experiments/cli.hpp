#pragma once
// The `tapelab` command:
//   tapelab list                       each experiment, the paper and the claim it checks
//   tapelab run X1 [flags] [--out DIR] one experiment; `tapelab run X1 --help` lists its flags and defaults
//   tapelab run all [--quick]          every experiment, each into DIR/<id> (default results/all-<timestamp>)
//   tapelab --version                  version, SIMD target in use, thread count
// Exit codes: 0 the run completed (PASS or FAIL), 1 an experiment failed to run, 2 bad flags or values,
// 3 a criterion failed and --strict was given.
namespace tapelab::experiments {

int main_cli(int argc, char** argv);

}  // namespace tapelab::experiments
