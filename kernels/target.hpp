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

// With op threads on, an op still runs its parts one after the other below this much work (its flops, a float
// flop counted as half a double one, as it takes half the time): the fork and join around a few microseconds
// of work cost more than the second core saves. Measured on a shared 2-vCPU Zen 5, training steps of
// h + V tanh(W h + b) / L (B = 256, L = 1024, double), op threads on for every op against off: d = 16 36-37 ms
// against 22-25, d = 32 73-77 against 63-64, d = 40 level, d = 48 119-122 against 127-129, d = 64 179-186
// against 202-208. That layer's forward is 4 d^2 B flops and its backward twice that: 4e6 keeps d = 64 on two
// threads (forward 4.2e6), the backward alone from d = 45, and d <= 40 on one. (In a quieter hour the same
// machine had d = 16 at 22 against 20 ms and d = 64 at 130 against 210.) Tests set 0 to send every split op to
// the threads.
inline constexpr double kDefaultOpMinParallelFlops = 4e6;
double op_min_parallel_flops();
void set_op_min_parallel_flops(double flops);

}  // namespace tapelab::kernels
