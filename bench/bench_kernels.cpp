// Kernel benchmarks, tapelab beside OpenBLAS in one run. GEMM rows are named
// BM_Gemm/<impl>/<f32|f64>/<M>/<N>/<K> so tapelab and openblas rows pair up (scripts/bench_table.py prints
// the ratio table). Both run on one thread unless the impl name says otherwise (tapelab-2t). Counter GFLOPS =
// 2 M N K / time. BM_GemmPaired/<f32|f64>/<M>/<N>/<K> times the two in alternating bursts on one shape, for a
// ratio that a shared core's drift does not skew.
//
// Debian's OpenBLAS 0.3.21 does not recognise newer CPUs and falls back to its Haswell (AVX2) kernels; run
// with OPENBLAS_CORETYPE=SkylakeX to compare against its AVX-512 kernels (scripts/bench.sh does this).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <initializer_list>
#include <new>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <immintrin.h>

#include "kernels/kernels.hpp"
#include "paired_timing.hpp"

#ifdef TAPELAB_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace tk = tapelab::kernels;

namespace {

// Operands 64-byte aligned, as autodiff's tensors are (kTensorAlignment): with std::allocator's 16 bytes the
// rows could start mid cache line and vector loads split lines, a cost no tapelab user pays (A B^T at 16 x 16 x
// 256 in double on a Zen 5: tapelab 1.76 us, OpenBLAS 1.70; aligned 1.42 and 1.28).
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const Aligned64<U>&) const { return true; }
};
template <class T>
using Buffer = std::vector<T, Aligned64<T>>;

template <class T>
Buffer<T> random_vector(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Buffer<T> v(n);
  for (auto& x : v) x = T(u(rng));
  return v;
}

template <class T> const char* type_name() { return sizeof(T) == 4 ? "f32" : "f64"; }

void set_gflops(benchmark::State& state, double flops) {
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// C (M x N) = A (M x K) * B (K x N), the forward product of a residual layer when M = K = d, N = batch.
template <class T>
void BM_GemmTapelab(benchmark::State& state, long M, long N, long K, int threads) {
  auto A = random_vector<T>(size_t(M * K), 1), B = random_vector<T>(size_t(K * N), 2), C = random_vector<T>(size_t(M * N), 3);
  tk::set_num_threads(threads);
  for (auto _ : state) {
    tk::gemm<T>(tk::Trans::N, tk::Trans::N, M, N, K, T(1), A.data(), K, B.data(), N, T(0), C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * double(M) * double(N) * double(K));
}

#ifdef TAPELAB_HAVE_OPENBLAS
template <class T>
void BM_GemmOpenBLAS(benchmark::State& state, int M, int N, int K) {
  auto A = random_vector<T>(size_t(M * K), 1), B = random_vector<T>(size_t(K * N), 2), C = random_vector<T>(size_t(M * N), 3);
  openblas_set_num_threads(1);
  for (auto _ : state) {
    if constexpr (sizeof(T) == 4)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, A.data(), K, B.data(), N, 0.0, C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * double(M) * double(N) * double(K));
}

// The same product by both libraries in alternating bursts of about 100 us, timed pair by pair
// (paired_timing.hpp): counter "ratio" is the median over pairs of (OpenBLAS burst time / tapelab burst time),
// > 1 when tapelab is faster.
template <class T>
void BM_GemmPaired(benchmark::State& state, tk::Trans ta, tk::Trans tb, int M, int N, int K) {
  // op(A) is M x K and op(B) K x N, stored row-major as they are transposed (lda = K or M, ldb = N or K).
  const int lda = ta == tk::Trans::N ? K : M, ldb = tb == tk::Trans::N ? N : K;
  auto A = random_vector<T>(size_t(M) * size_t(K), 1), B = random_vector<T>(size_t(K) * size_t(N), 2);
  auto C1 = random_vector<T>(size_t(M) * size_t(N), 3), C2 = C1;
  tk::set_num_threads(1);
  openblas_set_num_threads(1);
  auto ours = [&] {
    tk::gemm<T>(ta, tb, M, N, K, T(1), A.data(), lda, B.data(), ldb, T(0), C1.data(), N);
    benchmark::DoNotOptimize(C1.data());
    benchmark::ClobberMemory();
  };
  const CBLAS_TRANSPOSE cta = ta == tk::Trans::N ? CblasNoTrans : CblasTrans,
                        ctb = tb == tk::Trans::N ? CblasNoTrans : CblasTrans;
  auto peer = [&] {
    if constexpr (sizeof(T) == 4)
      cblas_sgemm(CblasRowMajor, cta, ctb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C2.data(), N);
    else
      cblas_dgemm(CblasRowMajor, cta, ctb, M, N, K, 1.0, A.data(), lda, B.data(), ldb, 0.0, C2.data(), N);
    benchmark::DoNotOptimize(C2.data());
    benchmark::ClobberMemory();
  };
  // Calls per burst: about 100 us of work (one call when a call is longer), measured after a warm-up.
  using tapelab::bench::seconds_per_call;
  seconds_per_call(ours, 3);
  seconds_per_call(peer, 3);
  const double one = std::max(seconds_per_call(ours, 5), seconds_per_call(peer, 5));
  const int calls = std::max(1, int(100e-6 / std::max(one, 1e-9)));
  const tapelab::bench::PairedTimes t = tapelab::bench::time_in_pairs(state, ours, peer, calls);
  std::vector<double> ratio(t.first.size());
  for (std::size_t i = 0; i < ratio.size(); ++i) ratio[i] = t.second[i] / t.first[i];
  state.counters["ratio"] = tapelab::bench::median(ratio);
  state.counters["tapelab_us"] = tapelab::bench::median(t.first) * 1e6;
  state.counters["openblas_us"] = tapelab::bench::median(t.second) * 1e6;
  state.counters["pairs"] = double(ratio.size());
}
#endif

// The core's FMA peak, measured in the same run as the GEMMs: 16 independent chains of AVX-512 FMAs (more than
// latency x issue width on every x86 core in use, so no chain waits on another). scripts/bench_table.py puts both
// libraries' GEMM rates against it: at a shape where both run at about the peak, neither can pull ahead, and
// whether their ratio lands above or below 1 is noise.
// A vector of Bytes / sizeof(T) lanes: __m512(d) or __m256(d) without their may_alias attribute (which a
// template argument would drop, with a warning)
template <class T, int Bytes>
struct VectorOf {
  typedef T type __attribute__((vector_size(Bytes)));
};

template <class T>
[[gnu::target("avx512f")]] void fma_chains_avx512(long steps, T* out) {
  using R = typename VectorOf<T, 64>::type;
  R acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = R{} + T(i);
  const R m = R{} + T(0.999999), a = R{} + T(1e-7);
  for (long k = 0; k < steps; ++k)
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if constexpr (sizeof(T) == 4) acc[i] = R(_mm512_fmadd_ps(__m512(acc[i]), __m512(m), __m512(a)));
      else acc[i] = R(_mm512_fmadd_pd(__m512d(acc[i]), __m512d(m), __m512d(a)));
    }
  for (int i = 1; i < 16; ++i) acc[0] += acc[i];
  *out = acc[0][0];
}

// The same with 256-bit vectors, for an AVX2 + FMA core: 12 chains (16 ymm registers; two FMA pipes with a
// latency of 4 or 5 cycles need 8 to 10 chains in flight).

template <class T>
[[gnu::target("avx2,fma")]] void fma_chains_avx2(long steps, T* out) {
  using R = typename VectorOf<T, 32>::type;
  R acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = R{} + T(i);
  const R m = R{} + T(0.999999), a = R{} + T(1e-7);
  for (long k = 0; k < steps; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
      if constexpr (sizeof(T) == 4)
        acc[i] = R(_mm256_fmadd_ps(__m256(acc[i]), __m256(m), __m256(a)));
      else
        acc[i] = R(_mm256_fmadd_pd(__m256d(acc[i]), __m256d(m), __m256d(a)));
    }
  for (int i = 1; i < 12; ++i) acc[0] += acc[i];
  *out = acc[0][0];
}

// BM_FmaPeak/<f32|f64>: GFLOPS = the one-core FMA peak (2 flops per lane per FMA) of the widest vectors the
// CPU has, AVX-512 or else AVX2 (the label says which): the ceiling for both libraries' GEMMs.
template <class T>
void BM_FmaPeak(benchmark::State& state) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
    state.SkipWithError("neither AVX-512 nor AVX2 + FMA on this CPU: FMA peak not measured");
    return;
  }
  constexpr long kSteps = 100000;
  T out = 0;
  for (auto _ : state) {
    if (avx512)
      fma_chains_avx512<T>(kSteps, &out);
    else
      fma_chains_avx2<T>(kSteps, &out);
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(avx512 ? "avx512" : "avx2");
  const double fmas = avx512 ? 16.0 * double(64 / sizeof(T)) : 12.0 * double(32 / sizeof(T));
  set_gflops(state, 2.0 * fmas * double(kSteps));
}

// The backward products of a residual layer: dH = W^T dZ (T,N) and dW = dZ H^T (N,T).
template <class T>
void BM_GemmTransposed(benchmark::State& state, tk::Trans ta, tk::Trans tb, long d, long batch) {
  auto W = random_vector<T>(size_t(d * d), 1), Z = random_vector<T>(size_t(d * batch), 2), H = random_vector<T>(size_t(d * batch), 3);
  auto out = random_vector<T>(size_t(d * batch), 4);
  tk::set_num_threads(1);
  for (auto _ : state) {
    if (ta == tk::Trans::T)  // dH (d x B) = W^T (d x d) dZ (d x B)
      tk::gemm<T>(ta, tb, d, batch, d, T(1), W.data(), d, Z.data(), batch, T(0), out.data(), batch);
    else  // dW (d x d) = dZ (d x B) H^T (B x d)
      tk::gemm<T>(ta, tb, d, d, batch, T(1), Z.data(), batch, H.data(), batch, T(0), out.data(), d);
    benchmark::DoNotOptimize(out.data());
  }
  set_gflops(state, 2.0 * double(d) * double(d) * double(batch));
}

template <class T>
void BM_Tanh(benchmark::State& state) {
  const tk::index_t n = state.range(0);
  auto x = random_vector<T>(size_t(n), 1), y = x;
  tk::set_num_threads(1);
  for (auto _ : state) {
    tk::activation_forward<T>(tk::Activation::tanh, 1, n, x.data(), n, y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// One activation kernel over n elements in cache (one thread): items per second = elements per second.
//   mode 0: activation_forward, 1: activation_derivative, 2: activation_forward_with_derivative,
//   3: activation_forward_backward (y and dx = dy σ'(x), what a recomputing layer's backward runs)
template <class T>
void BM_Activation(benchmark::State& state, tk::Activation act, int mode) {
  const tk::index_t n = state.range(0);
  auto x = random_vector<T>(size_t(n), 1), y = x, d = x, g = random_vector<T>(size_t(n), 2);
  for (T& v : x) v *= T(3);  // [-3, 3]: both branches of every select, as in a layer's pre-activations
  tk::set_num_threads(1);
  for (auto _ : state) {
    if (mode == 0) tk::activation_forward<T>(act, 1, n, x.data(), n, y.data(), n);
    if (mode == 1) tk::activation_derivative<T>(act, 1, n, x.data(), n, d.data(), n);
    if (mode == 2) tk::activation_forward_with_derivative<T>(act, 1, n, x.data(), n, y.data(), n, d.data(), n);
    if (mode == 3)
      tk::activation_forward_backward<T>(act, 1, n, x.data(), n, g.data(), n, y.data(), n, d.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(d.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

template <class T>
void BM_Sum(benchmark::State& state) {
  const tk::index_t n = state.range(0);
  auto x = random_vector<T>(size_t(n), 1);
  tk::set_num_threads(1);
  for (auto _ : state) benchmark::DoNotOptimize(tk::sum<T>(1, n, x.data(), n));
  state.SetBytesProcessed(state.iterations() * n * tk::index_t(sizeof(T)));
}

// n uniform doubles on [-1, 1): tapelab's Philox kernel beside std::mt19937_64 with the same conversion
// ((x >> 11) 2^-53, then lo + (hi - lo) u), which is what nn::Rng used before. One thread; items = numbers.
void BM_RandomPhilox(benchmark::State& state) {
  const tk::index_t n = state.range(0);
  Buffer<double> out(static_cast<size_t>(n));
  tk::set_num_threads(1);
  std::uint64_t first = 0;
  for (auto _ : state) {
    tk::random_uniform<double>(0x243f6a8885a308d3u, 0, first, n, -1.0, 1.0, out.data());
    first += std::uint64_t(n);  // fresh numbers each time, as in an experiment
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_RandomMt19937(benchmark::State& state) {
  const tk::index_t n = state.range(0);
  Buffer<double> out(static_cast<size_t>(n));
  std::mt19937_64 engine(1);
  for (auto _ : state) {
    for (double& x : out) x = -1.0 + 2.0 * (double(engine() >> 11) * 0x1.0p-53);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Builds "a/b/c/..." without operator+ chains (GCC 12 raises a false -Wrestrict on those).
std::string join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

template <class T>
void register_gemm(const std::vector<std::array<long, 3>>& shapes) {
  const std::string ty = type_name<T>();
  for (const auto& [M, N, K] : shapes) {
    const std::string m = std::to_string(M), n = std::to_string(N), k = std::to_string(K);
    benchmark::RegisterBenchmark(join({"BM_Gemm", "tapelab", ty, m, n, k}).c_str(), BM_GemmTapelab<T>, M, N, K, 1)
        ->Unit(benchmark::kMicrosecond);
    if (double(M) * double(N) * double(K) >= 1e8)
      benchmark::RegisterBenchmark(join({"BM_Gemm", "tapelab-2t", ty, m, n, k}).c_str(), BM_GemmTapelab<T>, M, N, K, 2)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();  // wall time: CPU time would count only the calling thread
#ifdef TAPELAB_HAVE_OPENBLAS
    benchmark::RegisterBenchmark(join({"BM_Gemm", "openblas", ty, m, n, k}).c_str(), BM_GemmOpenBLAS<T>, int(M), int(N),
                                 int(K))
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(join({"BM_GemmPaired", ty, m, n, k}).c_str(), BM_GemmPaired<T>, tk::Trans::N,
                                 tk::Trans::N, int(M), int(N), int(K))
        ->Unit(benchmark::kMicrosecond);
#endif
  }
}

template <class T>
void register_all() {
  std::vector<std::array<long, 3>> shapes;
  for (long n : {16, 32, 64, 128, 256, 512, 1024, 2048}) shapes.push_back({n, n, n});
  for (long d : {16, 64, 256})  // ResNet layer: (d x d) * (d x B); 256 x 256 x 256 is a square already
    for (long batch : {32, 256, 1024})
      if (d != batch) shapes.push_back({d, batch, d});
  register_gemm<T>(shapes);
  const std::string ty = type_name<T>();
  for (long d : {16, 64, 256}) {
    const std::string dims = join({std::to_string(d), "256"});
    benchmark::RegisterBenchmark(join({"BM_GemmBackward", "dH=WtdZ", ty, dims}).c_str(), BM_GemmTransposed<T>,
                                 tk::Trans::T, tk::Trans::N, d, 256L)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(join({"BM_GemmBackward", "dW=dZHt", ty, dims}).c_str(), BM_GemmTransposed<T>,
                                 tk::Trans::N, tk::Trans::T, d, 256L)
        ->Unit(benchmark::kMicrosecond);
#ifdef TAPELAB_HAVE_OPENBLAS
    // The same two products against OpenBLAS, paired: BM_GemmPaired/<ty>/<TN|NT>/<M>/<N>/<K>.
    const std::string ds = std::to_string(d);
    benchmark::RegisterBenchmark(join({"BM_GemmPaired", ty, "TN", ds, "256", ds}).c_str(), BM_GemmPaired<T>,
                                 tk::Trans::T, tk::Trans::N, int(d), 256, int(d))
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(join({"BM_GemmPaired", ty, "NT", ds, ds, "256"}).c_str(), BM_GemmPaired<T>,
                                 tk::Trans::N, tk::Trans::T, int(d), int(d), 256)
        ->Unit(benchmark::kMicrosecond);
#endif
  }
#ifdef TAPELAB_HAVE_OPENBLAS
  // The six products of one X6 layer (P4, q = 16, m = 32) on one half of its batch of 100, as the tape runs them:
  // W h and V A forward; V^T G, G A^T, dZ h^T and W^T dZ backward.
  struct Form {
    tk::Trans ta, tb;
    int M, N, K;
  };
  for (const Form& f : {Form{tk::Trans::N, tk::Trans::N, 32, 50, 16}, Form{tk::Trans::N, tk::Trans::N, 16, 50, 32},
                        Form{tk::Trans::T, tk::Trans::N, 32, 50, 16}, Form{tk::Trans::N, tk::Trans::T, 16, 32, 50},
                        Form{tk::Trans::N, tk::Trans::T, 32, 16, 50}, Form{tk::Trans::T, tk::Trans::N, 16, 50, 32}}) {
    const std::string form = std::string(f.ta == tk::Trans::N ? "N" : "T") + (f.tb == tk::Trans::N ? "N" : "T");
    benchmark::RegisterBenchmark(
        join({"BM_GemmPaired", ty, "x6-" + form, std::to_string(f.M), std::to_string(f.N), std::to_string(f.K)})
            .c_str(),
        BM_GemmPaired<T>, f.ta, f.tb, f.M, f.N, f.K)
        ->Unit(benchmark::kMicrosecond);
  }
#endif
  benchmark::RegisterBenchmark(join({"BM_FmaPeak", ty}).c_str(), BM_FmaPeak<T>)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(join({"BM_Tanh", ty}).c_str(), BM_Tanh<T>)->Arg(1 << 16)->Unit(benchmark::kMicrosecond);
  for (tk::Activation act : {tk::Activation::gelu_erf, tk::Activation::tanh})
    for (int mode : {0, 1, 2, 3}) {
      static const char* const kMode[] = {"forward", "derivative", "forward_with_derivative",
                                          "forward_backward"};
      benchmark::RegisterBenchmark(
          join({"BM_Activation", std::string(tk::activation_name(act)), ty, kMode[mode]}).c_str(), BM_Activation<T>,
          act, mode)
          ->Arg(1 << 12)
          ->Unit(benchmark::kMicrosecond);
    }
  benchmark::RegisterBenchmark(join({"BM_Sum", ty}).c_str(), BM_Sum<T>)->Arg(1 << 16)->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all<float>();
  register_all<double>();
  benchmark::RegisterBenchmark("BM_Random/philox/f64", BM_RandomPhilox)
      ->Arg(1 << 16)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Random/mt19937_64/f64", BM_RandomMt19937)
      ->Arg(1 << 16)
      ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  benchmark::AddCustomContext("tapelab_target", std::string(tk::target_name(tk::active_target())));
  benchmark::AddCustomContext("openblas_coretype", coretype ? coretype : "(auto)");
#ifdef TAPELAB_HAVE_OPENBLAS
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
#endif
  std::fprintf(stderr, "tapelab kernels: SIMD target %s; OPENBLAS_CORETYPE=%s\n",
               std::string(tk::target_name(tk::active_target())).c_str(), coretype ? coretype : "(auto)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
