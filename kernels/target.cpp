// Choosing the dispatch target: xsimd::dispatch picks the best architecture the CPU has; TAPELAB_ARCH overrides.
#include "kernels/target.hpp"

#include <omp.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels {
namespace {

// The architectures we build kernels for, best first (xsimd walks the list and takes the first the CPU has).
using DispatchArchs = xsimd::arch_list<xsimd::avx512f, xsimd::fma3<xsimd::avx2>, xsimd::sse2>;

struct TargetOf {
  template <class Arch>
  Target operator()(Arch) const {
    if constexpr (std::is_same_v<Arch, xsimd::avx512f>) return Target::avx512;
    if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) return Target::avx2;
    return Target::generic;
  }
};

Target best_target() { return xsimd::dispatch<DispatchArchs>(TargetOf{})(); }

bool cpu_has(Target t) { return static_cast<int>(t) <= static_cast<int>(best_target()); }

Target initial_target() {
  const char* env = std::getenv("TAPELAB_ARCH");
  if (env == nullptr || *env == '\0') return best_target();
  Target t;
  if (!parse_target(env, t)) {
    std::fprintf(stderr, "tapelab: TAPELAB_ARCH=%s is not one of avx512, avx2, generic\n", env);
    std::exit(2);
  }
  if (!cpu_has(t)) {
    std::fprintf(stderr, "tapelab: TAPELAB_ARCH=%s but this CPU supports at most %s\n", env,
                 std::string(target_name(best_target())).c_str());
    std::exit(2);
  }
  return t;
}

std::atomic<Target>& current() {
  static std::atomic<Target> t{initial_target()};
  return t;
}

}  // namespace

std::string_view target_name(Target t) {
  switch (t) {
    case Target::generic: return "generic";
    case Target::avx2: return "avx2";
    case Target::avx512: return "avx512";
  }
  return "?";
}

bool parse_target(std::string_view name, Target& out) {
  for (Target t : {Target::generic, Target::avx2, Target::avx512})
    if (name == target_name(t)) {
      out = t;
      return true;
    }
  return false;
}

std::vector<Target> available_targets() {
  std::vector<Target> out;
  for (Target t : {Target::generic, Target::avx2, Target::avx512})
    if (cpu_has(t)) out.push_back(t);
  return out;
}

Target active_target() { return current().load(std::memory_order_relaxed); }

void set_target(Target t) {
  if (!cpu_has(t))
    throw std::invalid_argument("set_target: this CPU cannot run target " + std::string(target_name(t)));
  current().store(t, std::memory_order_relaxed);
}

int num_threads() { return omp_get_max_threads(); }
void set_num_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }

namespace {
int op_threads_from_environment() {
  const char* env = std::getenv("TAPELAB_OP_THREADS");
  if (env == nullptr || *env == '\0') return 1;
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024) {
    std::fprintf(stderr, "tapelab: TAPELAB_OP_THREADS='%s' is not a thread count (1..1024)\n", env);
    std::exit(2);
  }
  return int(n);
}
std::atomic<int> g_op_threads{op_threads_from_environment()};
}  // namespace

int op_threads() { return g_op_threads.load(std::memory_order_relaxed); }
void set_op_threads(int n) { g_op_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

namespace {
std::atomic<double> g_op_min_parallel_flops{kDefaultOpMinParallelFlops};
}
double op_min_parallel_flops() { return g_op_min_parallel_flops.load(std::memory_order_relaxed); }
void set_op_min_parallel_flops(double flops) {
  g_op_min_parallel_flops.store(flops > 0.0 ? flops : 0.0, std::memory_order_relaxed);
}

bool parse_activation(std::string_view name, Activation& out) {
  for (Activation a : kAllActivations)
    if (name == activation_name(a)) {
      out = a;
      return true;
    }
  return false;
}

}  // namespace tapelab::kernels
