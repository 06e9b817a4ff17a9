#pragma once
// Which SIMD code path the kernels run: chosen once at start-up from the CPU (xsimd::dispatch picks the best of
// AVX-512, AVX2+FMA and the SSE2 baseline), or forced with the environment variable
//   TAPELAB_ARCH=avx512|avx2|generic
// Tests switch targets with set_target() to check every path on one machine.
#include <string_view>
#include <vector>

namespace tapelab::kernels {

enum class Target : unsigned char { generic, avx2, avx512 };

std::string_view target_name(Target t);

// Targets this CPU can run, lowest first; `generic` is always there.
std::vector<Target> available_targets();

// The target kernels dispatch to now.
Target active_target();

// Forces a target; throws std::invalid_argument if the CPU lacks it.
void set_target(Target t);

// Parses "avx512" / "avx2" / "generic"; returns false on an unknown name.
bool parse_target(std::string_view name, Target& out);

// OpenMP threads the kernels may use (wraps omp_{get,set}_num_threads so callers need no OpenMP header).
int num_threads();
void set_num_threads(int n);

// Threads for the fine-grained parallelism inside one small op: the two batch halves of residual_step and nn's
// parameter sweeps, a fork/join per layer. On an idle machine two threads save ~40% of a deep narrow training
// step; when another process holds the other core, OpenMP's spinning joins make every layer wait for a time
// slice and the step runs tens to hundreds of times slower. So it is opt-in: 1 unless set_op_threads(n) or the
// environment variable TAPELAB_OP_THREADS=n says otherwise. Results are the same bits for any value.
int op_threads();
void set_op_threads(int n);

}  // namespace tapelab::kernels
