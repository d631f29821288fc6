// fathom-bench-cuda: the CUDA backend's numbers on the GPU it runs on, as Markdown tables.
//
//   fathom-bench-cuda [--out results.md] [--append] [--quick] [--only ceilings,gemm,bf16,mla,decode]
//
// A measurement that fails (a cuBLASLt refusal, a kernel's error status) writes its error where
// its numbers would have gone and the rest goes on; a lost CUDA context (a sticky error such as an
// illegal address) ends the process. run_on_device.sh therefore runs the sections in separate
// processes (--only ..., --append), so one section's crash leaves the others' numbers.
//
// Sections, in this order (each line appended to the output file as soon as it is measured, so
// a run cut short still leaves what it measured):
//   ceilings  device-to-device copy bandwidth and cuBLAS bf16 TFLOP/s on random data: the
//             machine's own roofline, measured rather than taken from a datasheet;
//   gemm      FP8 block-scaled matmul at DeepSeek-V3 shapes, M = 1, 64, 128, 4096: the path the
//             matmul op takes (gemv for M <= 16, else 1x128 quantisation + cuBLASLt), cuBLASLt
//             alone (pre-quantised input: DeepGEMM's measure), and the exact tiled kernel, with
//             the cuBLASLt result's error against the exact one;
//   decode    whole decode steps of a V2-Lite-shaped FP8 model (27 layers, 64 routed experts,
//             weights generated in device memory) through the backend's compile/run, batch 1
//             and 32: with CUDA graphs and programmatic launches (the defaults), graphs without
//             them, and without graphs; where a batch-1 step's time goes, op by op
//             (profile_nodes); plus one 256-token prefill.
//   mla       MLA decode over a 4096-position latent cache (V3 and V2-Lite head counts):
//             the attention core's cache bandwidth and the whole op's time;
//   bf16      the shared tiled bf16 GEMM kernel (the HIP backend's) against cuBLAS, with the
//             difference between the two results;
//
// Every timing is the median of CUDA-event-timed repetitions after warm-up, on random data,
// rotating several weight copies where one copy would sit in L2.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend.h"
#include "bench_fill.h"
#include "blas/cublas_gemm.h"
#include "kernels/fp8_quant.cuh"
#include "kernels/gemm_tiled.cuh"
#include "kernels/gemv.cuh"
#include "kernels/mla_attention.cuh"
#include "ops/exact_matmul.h"
#include "runtime/check.h"
#include "runtime/device.h"

namespace fathom::bench {

namespace {

using cuda::Device;

// ---- Plumbing ----------------------------------------------------------------------------------

class DeviceMem {
 public:
  explicit DeviceMem(size_t bytes) : bytes_(bytes) { FATHOM_CUDA_CHECK(cudaMalloc(&p_, std::max<size_t>(bytes, 1))); }
  ~DeviceMem() { cudaFree(p_); }
  DeviceMem(const DeviceMem&) = delete;
  DeviceMem& operator=(const DeviceMem&) = delete;
  template <typename T = void>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_;
};

// Median of `reps` event-timed calls of fn after `warmup` untimed ones, in milliseconds.
double median_ms(Device& dev, const std::function<void()>& fn, int reps, int warmup = 2) {
  for (int i = 0; i < warmup; ++i) fn();
  cudaEvent_t a, b;
  FATHOM_CUDA_CHECK(cudaEventCreate(&a));
  FATHOM_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    FATHOM_CUDA_CHECK(cudaEventRecord(a, dev.stream()));
    fn();
    FATHOM_CUDA_CHECK(cudaEventRecord(b, dev.stream()));
    FATHOM_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    FATHOM_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Repetitions for a call that takes about `estimate_ms`: enough for a stable median, capped
// so a section stays within seconds.
int reps_for(double estimate_ms, bool quick) {
  const double budget = quick ? 60.0 : 250.0;
  return static_cast<int>(std::clamp(budget / std::max(estimate_ms, 1e-3), 5.0, 50.0));
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

class Report {
 public:
  Report(std::string path, bool append) : path_(std::move(path)) {
    if (!append) std::ofstream(path_, std::ios::trunc);
  }
  void line(const std::string& s) {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
    std::ofstream(path_, std::ios::app) << s << "\n";
  }

 private:
  std::string path_;
};

// Runs one measurement and returns "" or why it failed, as one line fit for a table cell, so the
// caller writes it where the numbers would have gone and the benchmark goes on. A lost CUDA
// context (a sticky error: an illegal address, a trap) is rethrown: nothing after it could run.
std::string failure_of(const std::function<void()>& measure) {
  try {
    measure();
    return {};
  } catch (const std::exception& e) {
    std::string why = e.what();
    (void)cudaGetLastError();  // a launch-configuration error is not sticky: clear it
    const cudaError_t after = cudaDeviceSynchronize();
    if (after != cudaSuccess) {
      throw std::runtime_error(why + "; the CUDA context is lost (" + cudaGetErrorString(after) + ")");
    }
    std::replace(why.begin(), why.end(), '|', '/');
    std::replace(why.begin(), why.end(), '\n', ' ');
    return "**failed**: " + why;
  }
}

// Relative L2 difference ‖a − b‖ / ‖b‖ of two f32 device arrays.
double rel_diff(const float* a, const float* b, size_t n) {
  std::vector<float> ha(n), hb(n);
  FATHOM_CUDA_CHECK(cudaMemcpy(ha.data(), a, n * 4, cudaMemcpyDeviceToHost));
  FATHOM_CUDA_CHECK(cudaMemcpy(hb.data(), b, n * 4, cudaMemcpyDeviceToHost));
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(ha[i]) - hb[i];
    if (!std::isfinite(d)) return INFINITY;
    num += d * d;
    den += static_cast<double>(hb[i]) * hb[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

struct Ceilings {
  double copy_gbs = 0, bf16_tflops = 0;
};

// ---- ceilings ----------------------------------------------------------------------------------

// `print`: write the table; the sections that need the numbers measure them silently when they
// run in a process of their own.
Ceilings bench_ceilings(Device& dev, Report& out, bool quick, bool print) {
  Ceilings c;
  const size_t bytes = size_t{2} << 30;
  DeviceMem src(bytes), dst(bytes);
  fill(src.as(), bytes / 4, kFillF32, 1, -1, 1, dev.stream());
  const double copy_ms = median_ms(dev, [&] {
    FATHOM_CUDA_CHECK(cudaMemcpyAsync(dst.as(), src.as(), bytes, cudaMemcpyDeviceToDevice, dev.stream()));
  }, quick ? 5 : 20);
  c.copy_gbs = 2.0 * static_cast<double>(bytes) / (copy_ms * 1e6);

  const int64_t n = 8192;
  DeviceMem a(n * n * 2), b(n * n * 2), y(n * n * 4);
  fill(a.as(), n * n, kFillBf16, 2, -1, 1, dev.stream());
  fill(b.as(), n * n, kFillBf16, 3, -1, 1, dev.stream());
  const double mm_ms = median_ms(dev, [&] { cuda::gemm_bf16(dev.blas(), a.as<uint16_t>(), b.as<uint16_t>(), y.as<float>(), n, n, n, n); },
                                 quick ? 5 : 10);
  c.bf16_tflops = 2.0 * n * n * n / (mm_ms * 1e9);
  if (!print) return c;

  out.line("## Ceilings measured on this GPU\n");
  out.line("| measure | value |");
  out.line("|---|---|");
  out.line("| device-to-device copy (2 GiB, bytes read + written) | " + fmt("%.0f GB/s", c.copy_gbs) + " |");
  out.line("| cuBLAS bf16 GEMM 8192³, f32 output, random data | " + fmt("%.0f TFLOP/s", c.bf16_tflops) + " |");
  out.line("");
  return c;
}

// ---- gemm --------------------------------------------------------------------------------------

struct Fp8Weights {
  int64_t n, k, copies;
  std::unique_ptr<DeviceMem> w, s;  // copies × [n][k] e4m3, copies × [ceil(n/128)][L4] f32
  size_t w_stride() const { return static_cast<size_t>(n * k); }
  size_t s_stride() const { return static_cast<size_t>(((n + 127) / 128) * cuda::Fp8BlockScaledGemm::scale_stride(k)); }
};

// DeepGEMM on H800 (perf-anchors.md §1a), TFLOP/s for M = 64, 128, 4096.
double deepgemm_anchor(int64_t n, int64_t k, int64_t m) {
  struct Row {
    int64_t n, k;
    double m64, m128, m4096;
  };
  const Row rows[] = {{2112, 7168, 206, 352, 1009}, {24576, 1536, 289, 535, 1125}, {7168, 16384, 336, 645, 1426},
                      {4096, 7168, 287, 533, 1265}};
  for (const Row& r : rows) {
    if (r.n == n && r.k == k) return m == 64 ? r.m64 : m == 128 ? r.m128 : m == 4096 ? r.m4096 : 0;
  }
  return 0;
}

void bench_gemm(Device& dev, Report& out, bool quick) {
  out.line("## FP8 block-scaled GEMM (y = x·Wᵀ, W e4m3 with 128x128 scales, x f32)\n");
  out.line("Paths: **op** = what the matmul op runs in the default \"mixed\" precision (M <= 16: the "
           "weight-streaming gemv kernel, exact; larger M: 1x128 quantisation of x + cuBLASLt), **lt** = cuBLASLt "
           "alone on pre-quantised x (the measure DeepGEMM reports), **tiled** = the exact f32 tiled kernel. "
           "err = ‖lt − tiled‖/‖tiled‖ (FP8 activation rounding). DeepGEMM anchor: H800 SXM5 (perf-anchors §1a).\n");
  out.line("| M | N | K | path | µs | TFLOP/s | GB/s | DeepGEMM H800 TFLOP/s | ratio | err |");
  out.line("|---|---|---|---|---|---|---|---|---|---|");
  const std::pair<int64_t, int64_t> shapes[] = {{2112, 7168}, {24576, 1536}, {7168, 16384}, {4096, 7168}};
  const int64_t ms[] = {1, 64, 128, 4096};
  cuda::Fp8BlockScaledGemm& lt = dev.fp8_gemm();
  for (auto [n, k] : shapes) {
    Fp8Weights w;
    w.n = n;
    w.k = k;
    // Enough copies to exceed L2 several times for the small-M (bandwidth-bound) runs.
    w.copies = std::clamp<int64_t>((int64_t{512} << 20) / (n * k), 1, 8);
    w.w = std::make_unique<DeviceMem>(w.w_stride() * w.copies);
    w.s = std::make_unique<DeviceMem>(w.s_stride() * w.copies * 4);
    fill(w.w->as(), w.w_stride() * w.copies, kFillE4m3, 11, -1, 1, dev.stream());
    fill(w.s->as(), w.s_stride() * w.copies, kFillF32, 12, 0.001f, 0.02f, dev.stream());
    for (int64_t m : ms) {
      const std::string failed = failure_of([&] {
        const int64_t mp = cuda::Fp8BlockScaledGemm::padded_rows(m), l = (k + 127) / 128;
        DeviceMem x(static_cast<size_t>(m * k) * 4), y(static_cast<size_t>(mp * n) * 4), y_exact(static_cast<size_t>(m * n) * 4);
        DeviceMem xq(static_cast<size_t>(mp * k)), xs(static_cast<size_t>(l * mp) * 4);
        fill(x.as(), static_cast<uint64_t>(m * k), kFillF32, 13 + m, -2, 2, dev.stream());
        const gpu::MatmulProblem p = cuda::dense_problem(FATHOM_DTYPE_F8_E4M3FN, n, k, m, x.as<float>(), y.as<float>());
        int copy = 0;
        auto weights = [&](gpu::MatrixRef& ref) {
          ref.data = w.w->as<uint8_t>() + w.w_stride() * copy;
          ref.scales = w.s->as<float>() + w.s_stride() * copy;
          ref.scale_cols = cuda::Fp8BlockScaledGemm::scale_stride(k);  // padded grid: same values, wider rows
          copy = static_cast<int>((copy + 1) % w.copies);
        };
        const double flops = 2.0 * m * n * k;
        const double bytes = static_cast<double>(n * k) + m * k * 4.0 + m * n * 4.0;
        auto row = [&](const std::string& path, double ms_, const std::string& err) {
          const double tf = flops / (ms_ * 1e9), anchor = deepgemm_anchor(n, k, m);
          out.line("| " + std::to_string(m) + " | " + std::to_string(n) + " | " + std::to_string(k) + " | " + path + " | " +
                   fmt("%.1f", ms_ * 1e3) + " | " + fmt("%.1f", tf) + " | " + fmt("%.0f", bytes / (ms_ * 1e6)) + " | " +
                   (anchor > 0 ? fmt("%.0f", anchor) : "–") + " | " + (anchor > 0 ? fmt("%.2f", tf / anchor) : "–") + " | " + err +
                   " |");
        };
        // Exact reference result (tiled kernel, first weight copy) for the error column.
        {
          gpu::MatmulProblem e = p;
          copy = 0;
          weights(e.w[0]);
          e.y = y_exact.as<float>();
          gpu::launch_gemm_tiled(e, dev.stream());
          FATHOM_CUDA_CHECK_LAUNCH("tiled");
          copy = 0;
        }
        const uint32_t lt_out = lt.output_dtype(n, k, mp);
        auto run_lt = [&](bool quantise) {
          gpu::MatrixRef ref;
          weights(ref);
          if (quantise) {
            gpu::Fp8QuantArgs q{x.as<float>(), k, m, mp, k, xq.as<uint8_t>(), xs.as<float>()};
            gpu::launch_fp8_quant(q, dev.stream());
          }
          lt.run(static_cast<const uint8_t*>(ref.data), ref.scales, xq.as<uint8_t>(), xs.as<float>(), y.as(), n, k, mp, dev.stream());
        };
        std::string lt_err = "–";
        if (lt_out != 0) {
          copy = 0;
          run_lt(true);
          FATHOM_CUDA_CHECK(cudaStreamSynchronize(dev.stream()));
          if (lt_out == FATHOM_DTYPE_F32) lt_err = fmt("%.2e", rel_diff(y.as<float>(), y_exact.as<float>(), static_cast<size_t>(m * n)));
        }
        const double est = std::max(flops / 300e9, bytes / 2e9) ;  // ms, rough
        const int reps = reps_for(est, quick);
        if (m <= gpu::kGemvMaxRows) {
          const size_t ws = gpu::gemv_workspace_floats(p, dev.sm_count());
          DeviceMem partial(ws * 4);
          auto gemv = [&] {
            gpu::MatmulProblem g = p;
            weights(g.w[0]);
            gpu::launch_gemv(g, partial.as<float>(), dev.sm_count(), dev.stream());
          };
          gemv();
          FATHOM_CUDA_CHECK(cudaStreamSynchronize(dev.stream()));
          copy = 0;
          gemv();
          const std::string err = fmt("%.2e", rel_diff(y.as<float>(), y_exact.as<float>(), static_cast<size_t>(m * n)));
          row("op = gemv (err vs tiled)", median_ms(dev, gemv, reps), err);
        } else if (lt_out != 0) {
          row("op = quant + lt", median_ms(dev, [&] { run_lt(true); }, reps), lt_err);
        }
        if (lt_out != 0) {
          row("lt", median_ms(dev, [&] { run_lt(false); }, reps), lt_err);
        } else {
          out.line("| " + std::to_string(m) + " | " + std::to_string(n) + " | " + std::to_string(k) +
                   " | lt | – | – | – | – | – | no cuBLASLt algorithm (" + dev.blas().fp8_block_scaling_note() + ") |");
        }
        if (!(quick && m == 4096)) {
          auto tiled = [&] {
            gpu::MatmulProblem e = p;
            weights(e.w[0]);
            gpu::launch_gemm_tiled(e, dev.stream());
          };
          row("tiled (exact)", median_ms(dev, tiled, std::max(3, reps / 4), 1), "0");
        }
        FATHOM_CUDA_CHECK_LAUNCH("gemm benchmark");
      });
      if (!failed.empty()) {
        out.line("| " + std::to_string(m) + " | " + std::to_string(n) + " | " + std::to_string(k) + " | – | – | – | – | – | – | " +
                 failed + " |");
      }
    }
  }
  out.line("");
}

// ---- bf16 --------------------------------------------------------------------------------------

void bench_bf16(Device& dev, Report& out, bool quick) {
  out.line("## bf16 GEMM: the shared tiled kernel against cuBLAS\n");
  out.line("y[M][N] = x[M][K]·W[N][K]ᵀ, bf16 inputs, f32 output. diff = ‖tiled − cuBLAS‖/‖cuBLAS‖ on the same inputs.\n");
  out.line("| M | N | K | cuBLAS µs | cuBLAS TFLOP/s | tiled µs | tiled TFLOP/s | tiled / cuBLAS | diff |");
  out.line("|---|---|---|---|---|---|---|---|---|");
  const int64_t shapes[][3] = {{128, 7168, 2048}, {4096, 7168, 2048}, {4096, 4096, 4096}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    DeviceMem x(static_cast<size_t>(m * k) * 2), w(static_cast<size_t>(n * k) * 2), y1(static_cast<size_t>(m * n) * 4),
        y2(static_cast<size_t>(m * n) * 4);
    fill(x.as(), static_cast<uint64_t>(m * k), kFillBf16, 21, -1, 1, dev.stream());
    fill(w.as(), static_cast<uint64_t>(n * k), kFillBf16, 22, -1, 1, dev.stream());
    gpu::MatmulProblem p = cuda::dense_problem(FATHOM_DTYPE_BF16, n, k, m, nullptr, y2.as<float>());
    p.x = x.as();  // bf16 activations: the tiled kernel reads them as they are
    p.x_dtype = FATHOM_DTYPE_BF16;
    p.w[0].data = w.as();
    const double flops = 2.0 * m * n * k;
    const int reps = reps_for(flops / 300e9, quick);
    const double t_cublas = median_ms(dev, [&] { cuda::gemm_bf16(dev.blas(), x.as<uint16_t>(), w.as<uint16_t>(), y1.as<float>(), m, n, k, n); }, reps);
    const double t_tiled = median_ms(dev, [&] { gpu::launch_gemm_tiled(p, dev.stream()); }, std::max(3, reps / 4), 1);
    FATHOM_CUDA_CHECK_LAUNCH("tiled bf16");
    const double diff = rel_diff(y2.as<float>(), y1.as<float>(), static_cast<size_t>(m * n));
    out.line("| " + std::to_string(m) + " | " + std::to_string(n) + " | " + std::to_string(k) + " | " + fmt("%.1f", t_cublas * 1e3) +
             " | " + fmt("%.1f", flops / (t_cublas * 1e9)) + " | " + fmt("%.1f", t_tiled * 1e3) + " | " +
             fmt("%.1f", flops / (t_tiled * 1e9)) + " | " + fmt("%.3f", t_cublas / t_tiled) + " | " + fmt("%.1e", diff) + " |");
  }
  out.line("");
}

// ---- mla ---------------------------------------------------------------------------------------

void bench_mla(Device& dev, Report& out, const Ceilings& c, bool quick) {
  out.line("## MLA decode over the latent cache\n");
  out.line("Context 4096 positions per sequence, one query token per sequence. core = attention over the cache "
           "(mla_attend, its splits unmerged); GB/s = cache bytes read / core time. op = the whole mla_attention op "
           "(cache write, q absorption, core, merge of the splits with the output projection). Anchors: FlashMLA 3000 GB/s on H800 (perf-anchors §1b); "
           "this GPU's measured copy bandwidth " + fmt("%.0f GB/s", c.copy_gbs) + ".\n");
  out.line("| model | heads | batch | cache | core µs | core GB/s | of copy bw | op µs |");
  out.line("|---|---|---|---|---|---|---|---|");
  struct Shape {
    const char* name;
    int heads;
  };
  const Shape shapes[] = {{"V3", 128}, {"V2-Lite", 16}};
  const int64_t len = 4096;
  for (const Shape& sh : shapes) {
    for (int64_t batch : {int64_t{1}, int64_t{32}, int64_t{128}}) {
      for (uint32_t cache_dtype : {uint32_t{FATHOM_DTYPE_BF16}, uint32_t{FATHOM_DTYPE_F32}}) {
        if (quick && cache_dtype == FATHOM_DTYPE_F32) continue;
        gpu::MlaShape s{sh.heads, 128, 64, 128, 512, batch, len, 0.1147f};
        const size_t elem = cache_dtype == FATHOM_DTYPE_BF16 ? 2 : 4;
        const size_t cache_elems = static_cast<size_t>(batch * len * (s.rank + s.rope));
        DeviceMem cache(cache_elems * elem);
        fill(cache.as(), cache_elems, cache_dtype == FATHOM_DTYPE_BF16 ? kFillBf16 : kFillF32, 31, -1, 1, dev.stream());
        const int64_t rows = int64_t{s.heads} * (s.nope + s.v);
        DeviceMem kv_b(static_cast<size_t>(rows * s.rank) * 2);
        fill(kv_b.as(), static_cast<uint64_t>(rows * s.rank), kFillBf16, 32, -0.05f, 0.05f, dev.stream());
        DeviceMem q(static_cast<size_t>(batch * s.heads * (s.nope + s.rope)) * 4), latent(static_cast<size_t>(batch * s.rank) * 4),
            kpe(static_cast<size_t>(batch * s.rope) * 4), o(static_cast<size_t>(batch * s.heads * s.v) * 4);
        fill(q.as(), q.bytes() / 4, kFillF32, 33, -1, 1, dev.stream());
        fill(latent.as(), latent.bytes() / 4, kFillF32, 34, -1, 1, dev.stream());
        fill(kpe.as(), kpe.bytes() / 4, kFillF32, 35, -1, 1, dev.stream());
        std::vector<int32_t> pos(static_cast<size_t>(batch), static_cast<int32_t>(len - 1)), slot(static_cast<size_t>(batch));
        for (int64_t i = 0; i < batch; ++i) slot[static_cast<size_t>(i)] = static_cast<int32_t>(i);
        DeviceMem dpos(pos.size() * 4), dslot(slot.size() * 4), err(4);
        FATHOM_CUDA_CHECK(cudaMemcpy(dpos.as(), pos.data(), pos.size() * 4, cudaMemcpyHostToDevice));
        FATHOM_CUDA_CHECK(cudaMemcpy(dslot.as(), slot.data(), slot.size() * 4, cudaMemcpyHostToDevice));
        FATHOM_CUDA_CHECK(cudaMemset(err.as(), 0, 4));
        DeviceMem ws(gpu::mla_workspace_floats(s, batch, dev.sm_count()) * 4);
        gpu::MlaArgs a{};
        a.shape = s;
        a.tokens = batch;
        a.q = q.as<float>();
        a.latent = latent.as<float>();
        a.k_pe = kpe.as<float>();
        a.positions = dpos.as<int32_t>();
        a.slots = dslot.as<int32_t>();
        a.kv_b_dtype = FATHOM_DTYPE_BF16;
        a.kv_b.data = kv_b.as();
        a.cache = cache.as();
        a.cache_dtype = cache_dtype;
        a.out = o.as<float>();
        a.error = err.as<int>();
        a.splits = gpu::mla_splits(s, batch, dev.sm_count());
        a.workspace = ws.as<float>();
        float* q_abs = ws.as<float>();
        float* partial = q_abs + static_cast<size_t>(batch * s.heads * s.rank);  // mla_common.cuh's layout
        const double bytes = static_cast<double>(cache_elems * elem);
        const int reps = reps_for(bytes / 3e9, quick);
        const double core = median_ms(dev, [&] { gpu::launch_mla_attend(a, q_abs, partial, dev.stream()); }, reps);
        const double op = median_ms(dev, [&] { gpu::launch_mla_attention(a, dev.stream()); }, reps);
        FATHOM_CUDA_CHECK_LAUNCH("mla benchmark");
        const double gbs = bytes / (core * 1e6);
        out.line(std::string("| ") + sh.name + " | " + std::to_string(sh.heads) + " | " + std::to_string(batch) + " | " +
                 (cache_dtype == FATHOM_DTYPE_BF16 ? "bf16" : "f32") + " | " + fmt("%.1f", core * 1e3) + " | " + fmt("%.0f", gbs) +
                 " | " + fmt("%.0f%%", 100 * gbs / c.copy_gbs) + " | " + fmt("%.1f", op * 1e3) + " |");
      }
    }
  }
  out.line("");
}

// ---- decode ------------------------------------------------------------------------------------

// A V2-Lite-shaped model (config_16B): hidden 2048, 27 layers (the first dense), 16 heads,
// q without LoRA, kv_lora_rank 512, nope 128, rope 64, v 128, 64 routed experts (top-6,
// softmax, greedy) of 1408, 2 shared experts, dense MLP 10944, vocab 102400. Matrices are FP8
// with 128x128 scales (as DeepSeek-V3's FP8 release), embedding and lm_head bf16.
struct ModelShape {
  int64_t hidden = 2048, layers = 27, heads = 16, rank = 512, nope = 128, rope = 64, v = 128;
  int64_t experts = 64, top_k = 6, moe_inter = 1408, shared = 2, dense_inter = 10944, vocab = 102400;
};

class SegmentBuilder {
 public:
  SegmentBuilder(cuda::CudaBackend& backend, Device& dev) : backend_(backend), dev_(dev) {}
  ~SegmentBuilder() {
    for (fathom_buffer* b : buffers_) backend_.buffer_free(b);
  }

  uint32_t tensor(const fathom_tensor_desc& d, uint32_t role, const std::string& name) {
    names_.push_back(name);
    tensors_.push_back({d, role, 0, names_.back().c_str()});
    return static_cast<uint32_t>(tensors_.size() - 1);
  }
  static fathom_tensor_desc desc(uint32_t dtype, std::vector<int64_t> shape, uint32_t layout = FATHOM_LAYOUT_DENSE) {
    fathom_tensor_desc d{};
    d.dtype = dtype;
    d.layout = layout;
    d.rank = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) d.shape[i] = shape[i];
    return d;
  }
  uint32_t act(int64_t width, const std::string& name, uint32_t dtype = FATHOM_DTYPE_F32) {
    return tensor(desc(dtype, {FATHOM_DIM_TOKENS, width}), FATHOM_ROLE_INTERNAL, name);
  }
  // A constant tensor in its own device buffer, filled on the device.
  uint32_t constant(const fathom_tensor_desc& d, uint32_t role, uint32_t kind, float lo, float hi, const std::string& name) {
    const uint32_t t = tensor(d, role, name);
    uint64_t n = 1;
    for (int i = 0; i < d.rank; ++i) n *= static_cast<uint64_t>(d.shape[i]);
    const uint64_t bytes = n * (d.dtype == FATHOM_DTYPE_F32 ? 4 : d.dtype == FATHOM_DTYPE_BF16 ? 2 : 1);
    fathom_buffer* b = backend_.buffer_alloc(0, bytes);
    buffers_.push_back(b);
    fill(cuda::CudaBackend::device_pointer(b), n, kind, seed_++, lo, hi, dev_.stream());
    bindings_.push_back({t, 0, {b, 0, bytes}});
    weight_bytes_ += role == FATHOM_ROLE_WEIGHT ? bytes : 0;
    return t;
  }
  // W [rows][cols] e4m3 + scales: appends both to `ins`.
  void fp8_weight(std::vector<uint32_t>& ins, int64_t rows, int64_t cols, const std::string& name) {
    ins.push_back(constant(desc(FATHOM_DTYPE_F8_E4M3FN, {rows, cols}, FATHOM_LAYOUT_BLOCK_SCALED_128x128), FATHOM_ROLE_WEIGHT,
                           kFillE4m3, -1, 1, name));
    ins.push_back(constant(desc(FATHOM_DTYPE_F32, {(rows + 127) / 128, (cols + 127) / 128}), FATHOM_ROLE_WEIGHT, kFillF32,
                           0.5f / std::sqrt(static_cast<float>(cols)), 2.0f / std::sqrt(static_cast<float>(cols)), name + "_scale_inv"));
  }
  template <typename A>
  void node(uint32_t op, std::vector<uint32_t> ins, std::vector<uint32_t> outs, const A* attrs, const std::string& name) {
    index_store_.push_back(std::move(ins));
    const auto& in = index_store_.back();
    index_store_.push_back(std::move(outs));
    const auto& out = index_store_.back();
    attr_store_.emplace_back();
    if (attrs) {
      attr_store_.back().resize(sizeof(A));
      std::memcpy(attr_store_.back().data(), attrs, sizeof(A));
    }
    names_.push_back(name);
    nodes_.push_back({op, static_cast<uint32_t>(in.size()), static_cast<uint32_t>(out.size()),
                      static_cast<uint32_t>(attr_store_.back().size()), in.data(), out.data(),
                      attr_store_.back().empty() ? nullptr : attr_store_.back().data(), names_.back().c_str()});
  }
  uint32_t matmul(uint32_t x, int64_t in, int64_t out, const std::string& name) {
    std::vector<uint32_t> ins{x};
    fp8_weight(ins, out, in, name + ".weight");
    const uint32_t y = act(out, name);
    node<int>(FATHOM_OP_MATMUL, ins, {y}, nullptr, name);
    return y;
  }
  uint32_t rms_norm(uint32_t x, int64_t width, const std::string& name) {
    const uint32_t w = constant(desc(FATHOM_DTYPE_BF16, {width}), FATHOM_ROLE_WEIGHT, kFillBf16, 0.8f, 1.2f, name + ".weight");
    const uint32_t y = act(width, name);
    const fathom_rms_norm_attrs a{1e-6f};
    node(FATHOM_OP_RMS_NORM, {x, w}, {y}, &a, name);
    return y;
  }
  uint32_t binary(uint32_t op, uint32_t a, uint32_t b, int64_t width, const std::string& name) {
    const uint32_t y = act(width, name);
    node<int>(op, {a, b}, {y}, nullptr, name);
    return y;
  }

  fathom_segment segment(int64_t max_tokens) const {
    return {sizeof(fathom_segment), static_cast<uint32_t>(tensors_.size()), static_cast<uint32_t>(nodes_.size()), 0,
            tensors_.data(), nodes_.data(), max_tokens};
  }
  const std::vector<fathom_binding>& bindings() const { return bindings_; }
  uint64_t weight_bytes() const { return weight_bytes_; }

 private:
  cuda::CudaBackend& backend_;
  Device& dev_;
  std::deque<std::string> names_;
  std::vector<fathom_segment_tensor> tensors_;
  std::deque<std::vector<uint32_t>> index_store_;
  std::deque<std::vector<std::byte>> attr_store_;
  std::vector<fathom_segment_node> nodes_;
  std::vector<fathom_binding> bindings_;
  std::vector<fathom_buffer*> buffers_;
  uint64_t seed_ = 100;
  uint64_t weight_bytes_ = 0;
};

struct DecodeModel {
  uint32_t ids, positions, slots, logits;
  uint64_t dense_bytes = 0, expert_bytes = 0;  // weights read per step: all dense, per routed expert
};

DecodeModel build_model(SegmentBuilder& b, const ModelShape& m, int64_t slots, int64_t max_len) {
  DecodeModel d;
  const auto tokens = SegmentBuilder::desc(FATHOM_DTYPE_I32, {FATHOM_DIM_TOKENS});
  d.ids = b.tensor(tokens, FATHOM_ROLE_INPUT, "ids");
  d.positions = b.tensor(tokens, FATHOM_ROLE_INPUT, "positions");
  d.slots = b.tensor(tokens, FATHOM_ROLE_INPUT, "slots");
  const uint64_t before_embed = b.weight_bytes();
  const uint32_t table = b.constant(SegmentBuilder::desc(FATHOM_DTYPE_BF16, {m.vocab, m.hidden}), FATHOM_ROLE_WEIGHT, kFillBf16,
                                    -1, 1, "embed_tokens");
  const uint64_t embed_bytes = b.weight_bytes() - before_embed;
  uint32_t h = b.act(m.hidden, "embed");
  b.node<int>(FATHOM_OP_EMBEDDING, {d.ids, table}, {h}, nullptr, "embed");

  fathom_rope_attrs rope{};
  rope.rope_dim = static_cast<int32_t>(m.rope);
  rope.theta = 10000.f;
  rope.yarn_factor = 40.f;
  rope.original_max_positions = 4096;
  rope.beta_fast = 32.f;
  rope.beta_slow = 1.f;
  rope.amplitude = 1.f;
  uint64_t expert_total = 0;
  for (int64_t l = 0; l < m.layers; ++l) {
    const std::string p = "layers." + std::to_string(l);
    uint32_t x = b.rms_norm(h, m.hidden, p + ".input_layernorm");
    // The order of the DeepSeek graph builder (graph/src/deepseek_blocks.cpp): the two products
    // of x next to each other, so that the stacked_matmul fusion applies as in the real model.
    uint32_t q = b.matmul(x, m.hidden, m.heads * (m.nope + m.rope), p + ".q_proj");
    const uint32_t kva = b.matmul(x, m.hidden, m.rank + m.rope, p + ".kv_a_proj_with_mqa");
    fathom_rope_attrs qa = rope;
    qa.head_dim = static_cast<int32_t>(m.nope + m.rope);
    qa.rope_offset = static_cast<int32_t>(m.nope);
    const uint32_t q_roped = b.act(m.heads * (m.nope + m.rope), p + ".q_rope");
    b.node(FATHOM_OP_ROPE_YARN, {q, d.positions}, {q_roped}, &qa, p + ".q_rope");
    const uint32_t lat = b.act(m.rank, p + ".latent");
    const fathom_slice_attrs sl{0, m.rank};
    b.node(FATHOM_OP_SLICE, {kva}, {lat}, &sl, p + ".latent");
    const uint32_t latent = b.rms_norm(lat, m.rank, p + ".kv_a_layernorm");
    const uint32_t kpe = b.act(m.rope, p + ".k_pe");
    const fathom_slice_attrs sk{m.rank, m.rope};
    b.node(FATHOM_OP_SLICE, {kva}, {kpe}, &sk, p + ".k_pe");
    fathom_rope_attrs ka = rope;
    ka.head_dim = static_cast<int32_t>(m.rope);
    const uint32_t kpe_roped = b.act(m.rope, p + ".k_rope");
    b.node(FATHOM_OP_ROPE_YARN, {kpe, d.positions}, {kpe_roped}, &ka, p + ".k_rope");
    std::vector<uint32_t> mla{q_roped, latent, kpe_roped, d.positions, d.slots};
    b.fp8_weight(mla, m.heads * (m.nope + m.v), m.rank, p + ".kv_b_proj.weight");
    mla.push_back(b.constant(SegmentBuilder::desc(FATHOM_DTYPE_F32, {slots, max_len, m.rank + m.rope}), FATHOM_ROLE_STATE,
                             kFillF32, -1, 1, p + ".kv_cache"));
    const fathom_mla_attrs ma{static_cast<int32_t>(m.heads), static_cast<int32_t>(m.nope), static_cast<int32_t>(m.rope),
                              static_cast<int32_t>(m.v), static_cast<int32_t>(m.rank), 1, 0.1147f, 0};
    const uint32_t o = b.act(m.heads * m.v, p + ".attention");
    b.node(FATHOM_OP_MLA_ATTENTION, mla, {o}, &ma, p + ".attention");
    const uint32_t attn = b.matmul(o, m.heads * m.v, m.hidden, p + ".o_proj");
    h = b.binary(FATHOM_OP_ADD, h, attn, m.hidden, p + ".attn_residual");
    x = b.rms_norm(h, m.hidden, p + ".post_attention_layernorm");
    auto mlp = [&](uint32_t in, int64_t inter, const std::string& n) {
      const uint32_t g = b.matmul(in, m.hidden, inter, n + ".gate_proj");
      const uint32_t u = b.matmul(in, m.hidden, inter, n + ".up_proj");
      const uint32_t a = b.binary(FATHOM_OP_SILU_MUL, g, u, inter, n + ".act");
      return b.matmul(a, inter, m.hidden, n + ".down_proj");
    };
    uint32_t ffn;
    if (l == 0) {
      ffn = mlp(x, m.dense_inter, p + ".mlp");
    } else {
      const uint32_t gate = b.constant(SegmentBuilder::desc(FATHOM_DTYPE_BF16, {m.experts, m.hidden}), FATHOM_ROLE_WEIGHT,
                                       kFillBf16, -0.05f, 0.05f, p + ".mlp.gate.weight");
      const uint32_t ex = b.tensor(SegmentBuilder::desc(FATHOM_DTYPE_I32, {FATHOM_DIM_TOKENS, m.top_k}), FATHOM_ROLE_INTERNAL, p + ".experts");
      const uint32_t wt = b.act(m.top_k, p + ".weights");
      const fathom_moe_route_attrs ra{static_cast<int32_t>(m.experts), static_cast<int32_t>(m.top_k), 1, 1,
                                      FATHOM_SCORING_SOFTMAX, FATHOM_TOPK_GREEDY, 0, 0, 1.0f, 0};
      b.node(FATHOM_OP_MOE_ROUTE, {x, gate}, {ex, wt}, &ra, p + ".mlp.gate");
      std::vector<uint32_t> ins{x, ex, wt};
      const uint64_t w0 = b.weight_bytes();
      for (int64_t e = 0; e < m.experts; ++e) {
        const std::string ep = p + ".mlp.experts." + std::to_string(e);
        b.fp8_weight(ins, m.moe_inter, m.hidden, ep + ".gate_proj.weight");
        b.fp8_weight(ins, m.moe_inter, m.hidden, ep + ".up_proj.weight");
        b.fp8_weight(ins, m.hidden, m.moe_inter, ep + ".down_proj.weight");
      }
      expert_total += b.weight_bytes() - w0;
      const uint32_t routed = b.act(m.hidden, p + ".mlp.experts");
      const fathom_moe_experts_attrs ea{static_cast<int32_t>(m.experts), static_cast<int32_t>(m.top_k),
                                        static_cast<int32_t>(m.hidden), static_cast<int32_t>(m.moe_inter)};
      b.node(FATHOM_OP_MOE_EXPERTS, ins, {routed}, &ea, p + ".mlp.experts");
      const uint32_t shared = mlp(x, m.shared * m.moe_inter, p + ".mlp.shared_experts");
      ffn = b.binary(FATHOM_OP_ADD, routed, shared, m.hidden, p + ".mlp.combine");
    }
    h = b.binary(FATHOM_OP_ADD, h, ffn, m.hidden, p + ".ffn_residual");
  }
  const uint32_t hidden = b.rms_norm(h, m.hidden, "norm");
  const uint32_t head = b.constant(SegmentBuilder::desc(FATHOM_DTYPE_BF16, {m.vocab, m.hidden}), FATHOM_ROLE_WEIGHT, kFillBf16,
                                   -0.05f, 0.05f, "lm_head.weight");
  d.logits = b.tensor(SegmentBuilder::desc(FATHOM_DTYPE_F32, {FATHOM_DIM_TOKENS, m.vocab}), FATHOM_ROLE_OUTPUT, "logits");
  b.node<int>(FATHOM_OP_MATMUL, {hidden, head}, {d.logits}, nullptr, "lm_head");
  d.expert_bytes = expert_total / static_cast<uint64_t>((m.layers - 1) * m.experts);
  d.dense_bytes = b.weight_bytes() - expert_total - embed_bytes;  // the embedding reads one row per token
  return d;
}

// Where a batch-1 decode step's time goes: the same segment compiled with profile_nodes (each op
// between two events; no graph, no programmatic launch), summed over the layers per part of a
// layer. The sum of the ops' times against the graph-replayed step shows what launching costs.
void profile_step(Device& dev, Report& out, const fathom_segment& seg, const std::vector<fathom_binding>& weights,
                  const std::vector<fathom_binding>& io, double graph_step_ms, bool quick) {
  cuda::Options profiled;
  profiled.profile_nodes = true;
  cuda::CudaBackend profiler(profiled);
  fathom_executable* exe = profiler.compile(0, seg, weights);
  const int steps = quick ? 5 : 20;
  profiler.run(exe, io, 1);  // warm-up
  std::vector<fathom_node_profile> before(seg.n_nodes), after(seg.n_nodes);
  profiler.executable_profile(exe, before);
  for (int i = 0; i < steps; ++i) profiler.run(exe, io, 1);
  profiler.executable_profile(exe, after);
  profiler.executable_destroy(exe);
  FATHOM_CUDA_CHECK(cudaStreamSynchronize(dev.stream()));

  std::map<std::string, std::pair<double, int>> parts;  // "mlp.experts" -> (µs per step, nodes)
  double total_us = 0;
  for (uint32_t i = 0; i < seg.n_nodes; ++i) {
    if (after[i].calls == before[i].calls) continue;  // inside a fused run, booked to its last node
    const double us = static_cast<double>(after[i].total_ns - before[i].total_ns) / 1e3 / steps;
    std::string name = seg.nodes[i].name ? seg.nodes[i].name : "?";
    if (name.rfind("layers.", 0) == 0) name = name.substr(name.find('.', 7) + 1);  // drop "layers.<n>."
    parts[name].first += us;
    parts[name].second += 1;
    total_us += us;
  }
  std::vector<std::pair<std::string, std::pair<double, int>>> sorted(parts.begin(), parts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  out.line("");
  out.line("Where a batch-1 step's time goes (each op timed alone between two events, no graph, no PDL, mean of " +
           std::to_string(steps) + " steps; a fused run of nodes is booked to its last node; summed over the layers):\n");
  out.line("| node (all layers) | ops | µs per step | share |");
  out.line("|---|---|---|---|");
  for (const auto& [name, v] : sorted) {
    out.line("| " + name + " | " + std::to_string(v.second) + " | " + fmt("%.1f", v.first) + " | " +
             fmt("%.0f%%", 100 * v.first / std::max(total_us, 1e-9)) + " |");
  }
  out.line("");
  out.line("Sum of the ops' times: " + fmt("%.3f ms", total_us / 1e3) + " per step; the graph-replayed step (PDL on) took " +
           fmt("%.3f ms", graph_step_ms) + ". Where the sum is the smaller, the rest is what launching the kernels costs.");
}

void bench_decode(Device& dev, Report& out, const Ceilings& c, bool quick) {
  const ModelShape m;
  const int64_t slots = 32, max_len = 1024, context = 512, max_tokens = 256;
  cuda::Options graphs_on, graphs_off, no_pdl;
  graphs_off.cuda_graphs = false;
  graphs_off.programmatic_launch = false;  // the plainest way: also the reference for the logits check
  no_pdl.programmatic_launch = false;
  cuda::CudaBackend backend(graphs_on);
  cuda::CudaBackend eager(graphs_off);       // same device; shares the weight buffers
  cuda::CudaBackend plain_launch(no_pdl);    // graphs, but every kernel waits for the launch before
  SegmentBuilder b(backend, dev);
  const auto t0 = std::chrono::steady_clock::now();
  const DecodeModel d = build_model(b, m, slots, max_len);
  FATHOM_CUDA_CHECK(cudaStreamSynchronize(dev.stream()));
  const fathom_segment seg = b.segment(max_tokens);
  fathom_executable* exe = backend.compile(0, seg, b.bindings());
  fathom_executable* exe_eager = eager.compile(0, seg, b.bindings());
  fathom_executable* exe_plain = plain_launch.compile(0, seg, b.bindings());
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  out.line("## Decode steps, V2-Lite-shaped FP8 model\n");
  out.line("27 layers (1 dense + 26 MoE with 64 routed experts, top-6, 2 shared), hidden 2048, MLA with 16 heads and "
           "kv_lora_rank 512; FP8 e4m3 matrices with 128x128 scales, bf16 embedding and lm_head, f32 activations and "
           "KV cache; " + fmt("%.2f GB", static_cast<double>(b.weight_bytes()) / 1e9) + " of weights generated in device memory; "
           "built and compiled in " + fmt("%.1f s", setup_s) + ". One step = one run() of the whole model for one token "
           "per sequence at position " + std::to_string(context) + " (so each token attends over " + std::to_string(context + 1) +
           " positions), through the backend's compile/run as the runtime calls it. Roofline: weights read per step "
           "(all dense matrices, lm_head included, plus the distinct routed experts expected for the batch) over the "
           "measured copy bandwidth; anchors: perf-anchors §6 (V2-Lite FP8 at 4.8 TB/s: about 1,960 tok/s, weights only).\n");
  out.line("PDL: programmatic dependent launch (`programmatic_launch`, on by default): each kernel's blocks may start "
           "while the kernel before it finishes, and wait on the device. Available on this device with this build: " +
           std::string(dev.programmatic_launch_ok() ? "yes" : "**no** (the PDL rows below are plain launches)") + ".\n");
  out.line("| batch | CUDA graphs | PDL | step ms | tok/s | weights read / step | roofline tok/s | of roofline |");
  out.line("|---|---|---|---|---|---|---|---|");

  fathom_buffer* ids = backend.buffer_alloc(0, max_tokens * 4);
  fathom_buffer* pos = backend.buffer_alloc(0, max_tokens * 4);
  fathom_buffer* slot = backend.buffer_alloc(0, max_tokens * 4);
  fathom_buffer* logits = backend.buffer_alloc(0, static_cast<uint64_t>(max_tokens * m.vocab) * 4);
  auto bindings = [&](int64_t t) {
    return std::vector<fathom_binding>{{d.ids, 0, {ids, 0, static_cast<uint64_t>(t) * 4}},
                                       {d.positions, 0, {pos, 0, static_cast<uint64_t>(t) * 4}},
                                       {d.slots, 0, {slot, 0, static_cast<uint64_t>(t) * 4}},
                                       {d.logits, 0, {logits, 0, static_cast<uint64_t>(t * m.vocab) * 4}}};
  };
  // Token k: prefill → slot 0, position k; decode → slot k at `context`; `per_sequence` = 2 is an
  // MTP verification step: the last token and the draft of each slot, at context and context + 1.
  auto upload_tokens = [&](int64_t t, bool prefill, int64_t per_sequence = 1) {
    std::vector<int32_t> i(static_cast<size_t>(t)), p(static_cast<size_t>(t)), s(static_cast<size_t>(t));
    for (int64_t k = 0; k < t; ++k) {
      i[static_cast<size_t>(k)] = static_cast<int32_t>((k * 7919 + 13) % m.vocab);
      p[static_cast<size_t>(k)] = static_cast<int32_t>(prefill ? k : context + k % per_sequence);
      s[static_cast<size_t>(k)] = static_cast<int32_t>(prefill ? 0 : k / per_sequence);
    }
    backend.buffer_upload({ids, 0, static_cast<uint64_t>(t) * 4}, i.data());
    backend.buffer_upload({pos, 0, static_cast<uint64_t>(t) * 4}, p.data());
    backend.buffer_upload({slot, 0, static_cast<uint64_t>(t) * 4}, s.data());
  };
  auto time_steps = [&](cuda::CudaBackend& be, fathom_executable* e, int64_t t, int reps) {
    const auto bind = bindings(t);
    for (int i = 0; i < 3; ++i) be.run(e, bind, t);  // eager, capture, replay
    std::vector<double> ms;
    for (int i = 0; i < reps; ++i) {
      const auto a = std::chrono::steady_clock::now();
      be.run(e, bind, t);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  std::vector<double> one_row_ms;  // per batch size, with CUDA graphs (NAN: that run failed)
  for (int64_t batch : {int64_t{1}, int64_t{32}}) {
    one_row_ms.push_back(NAN);
    const std::string batch_failed = failure_of([&] {
      upload_tokens(batch, false);
      // Distinct experts a batch touches per layer, in expectation under uniform routing.
      const double distinct = m.experts * (1.0 - std::pow(1.0 - static_cast<double>(m.top_k) / m.experts, static_cast<double>(batch)));
      const double bytes = static_cast<double>(d.dense_bytes) + distinct * (m.layers - 1) * static_cast<double>(d.expert_bytes);
      const double roof = c.copy_gbs * 1e9 / bytes * static_cast<double>(batch);
      struct Variant {
        cuda::CudaBackend& backend;
        fathom_executable* exe;
        const char* graphs;
        const char* pdl;
      };
      const Variant variants[] = {{backend, exe, "yes", "yes"}, {plain_launch, exe_plain, "yes", "no"}, {eager, exe_eager, "no", "no"}};
      // The same step three ways must give the same logits, bit for bit (every kernel is
      // deterministic): a difference with PDL on is a kernel that does not wait for the one
      // before it (or a race of its own); with graphs, a capture problem.
      auto step_logits = [&](const Variant& v) {
        for (int i = 0; i < 3; ++i) v.backend.run(v.exe, bindings(batch), batch);  // eager, capture, replay
        std::vector<float> l(static_cast<size_t>(batch * m.vocab));
        v.backend.buffer_download({logits, 0, l.size() * 4}, l.data());
        return l;
      };
      std::string agreement;
      const std::string eager_failed = failure_of([&] {
        const std::vector<float> reference = step_logits(variants[2]);  // no graph, no PDL: plain stream order
        for (const Variant* v : {&variants[0], &variants[1]}) {
          std::vector<float> got;
          const std::string variant_failed = failure_of([&] { got = step_logits(*v); });
          double worst = 0;
          for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - reference[i]));
          if (std::isnan(worst) || std::any_of(got.begin(), got.end(), [](float x) { return std::isnan(x); })) worst = NAN;
          agreement += std::string(agreement.empty() ? "" : "; ") + "graphs " + v->graphs + ", PDL " + v->pdl + ": " +
                       (variant_failed.empty() ? "max |Δ| " + fmt("%.3g", worst) : variant_failed);
        }
    });
    out.line("| " + std::to_string(batch) + " | logits against the eager step | " +
             (eager_failed.empty() ? agreement : "eager step " + eager_failed) + " | | | | | |");
    for (const Variant& v : variants) {
      if (quick && &v == &variants[2]) continue;
      double step = NAN;
      const std::string failed = failure_of([&] { step = time_steps(v.backend, v.exe, batch, quick ? 10 : 30); });
      if (!failed.empty()) {
        out.line("| " + std::to_string(batch) + " | " + v.graphs + " | " + v.pdl + " | " + failed + " | | | | |");
        continue;
      }
      const double tps = static_cast<double>(batch) * 1e3 / step;
      out.line("| " + std::to_string(batch) + " | " + v.graphs + " | " + v.pdl + " | " + fmt("%.3f", step) + " | " + fmt("%.0f", tps) +
               " | " + fmt("%.2f GB", bytes / 1e9) + " | " + fmt("%.0f", roof) + " | " + fmt("%.0f%%", 100 * tps / roof) + " |");
      if (&v == &variants[0]) one_row_ms.back() = step;
    }
    });
    if (!batch_failed.empty()) out.line("| " + std::to_string(batch) + " | " + batch_failed + " | | | | | | |");
  }
  // What an MTP verification step costs: two rows per sequence instead of one. With drafts
  // accepted at rate a, speculation yields (1 + a) tokens per verification step plus one MTP
  // step (one more MoE layer and a second vocabulary product, about 1/27 of the model plus the head).
  out.line("");
  out.line("MTP verification steps (CUDA graphs; two rows per sequence, at positions " + std::to_string(context) + " and " +
           std::to_string(context + 1) + "):\n");
  out.line("| batch | rows | step ms | vs one row per sequence | tok/s at 85 % acceptance, MTP step not counted |");
  out.line("|---|---|---|---|---|");
  for (size_t i = 0; i < one_row_ms.size(); ++i) {
    const int64_t batch = i == 0 ? 1 : 32;
    double step = NAN;
    const std::string failed = failure_of([&] {
      upload_tokens(2 * batch, false, 2);
      step = time_steps(backend, exe, 2 * batch, quick ? 10 : 30);
    });
    out.line("| " + std::to_string(batch) + " | " + std::to_string(2 * batch) + " | " +
             (failed.empty() ? fmt("%.3f", step) + " | " + fmt("%.2fx", step / one_row_ms[i]) + " | " +
                                   fmt("%.0f", 1.85 * static_cast<double>(batch) * 1e3 / step)
                             : failed + " | | ") +
             " |");
  }
  std::string failed = failure_of([&] {
    upload_tokens(1, false);
    profile_step(dev, out, seg, b.bindings(), bindings(1), one_row_ms.empty() ? 0.0 : one_row_ms[0], quick);
  });
  if (!failed.empty()) out.line("\nWhere a batch-1 step's time goes: " + failed);
  {
    const int64_t t = max_tokens;
    double step = NAN;
    failed = failure_of([&] {
      upload_tokens(t, true);
      step = time_steps(backend, exe, t, quick ? 3 : 5);
    });
    out.line("");
    out.line("Prefill of " + std::to_string(t) + " tokens of one sequence (positions 0.." + std::to_string(t - 1) + ", one run, "
             "\"mixed\" precision): " +
             (failed.empty() ? fmt("%.1f ms", step) + ", " + fmt("%.0f tok/s", static_cast<double>(t) * 1e3 / step) + "." : failed));
  }
  out.line("");
  backend.executable_destroy(exe);
  eager.executable_destroy(exe_eager);
  plain_launch.executable_destroy(exe_plain);
  for (fathom_buffer* buf : {ids, pos, slot, logits}) backend.buffer_free(buf);
}

struct Args {
  std::string out = "results.md";
  bool quick = false;
  bool append = false;  // add to --out rather than start it (the sections run as separate processes)
  std::string only;
  bool wants(const std::string& section) const { return only.empty() || ("," + only + ",").find("," + section + ",") != std::string::npos; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--out" && i + 1 < argc) {
      a.out = argv[++i];
    } else if (s == "--quick") {
      a.quick = true;
    } else if (s == "--append") {
      a.append = true;
    } else if (s == "--only" && i + 1 < argc) {
      a.only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: fathom-bench-cuda [--out FILE] [--append] [--quick] [--only ceilings,gemm,bf16,mla,decode]\n");
      std::exit(2);
    }
  }
  return a;
}

int main_impl(int argc, char** argv) {
  const Args args = parse(argc, argv);
  Device dev(0);
  Report out(args.out, args.append);
  if (!args.append) {
    out.line("# fathom-bench-cuda\n");
    out.line(std::string("GPU: ") + dev.props().name + ", " + dev.description() + "; " +
             fmt("%.0f GiB", static_cast<double>(dev.props().totalGlobalMem) / (1u << 30)) + ".\n");
  }
  int failures = 0;
  auto section = [&](const char* name, const std::function<void()>& run) {
    const std::string failed = failure_of(run);
    if (!failed.empty()) {
      out.line("\nSection " + std::string(name) + ": " + failed + "\n");
      ++failures;
    }
  };
  Ceilings c;
  if (args.wants("ceilings") || args.wants("mla") || args.wants("decode")) {
    section("ceilings", [&] { c = bench_ceilings(dev, out, args.quick, args.wants("ceilings")); });
  }
  // Most wanted first (issue 7's two targets), in case the device script's time limit cuts the run.
  if (args.wants("gemm")) section("gemm", [&] { bench_gemm(dev, out, args.quick); });
  if (args.wants("decode")) section("decode", [&] { bench_decode(dev, out, c, args.quick); });
  if (args.wants("mla")) section("mla", [&] { bench_mla(dev, out, c, args.quick); });
  if (args.wants("bf16")) section("bf16", [&] { bench_bf16(dev, out, args.quick); });
  return failures == 0 ? 0 : 1;
}

}  // namespace

}  // namespace fathom::bench

int main(int argc, char** argv) {
  try {
    return fathom::bench::main_impl(argc, argv);
  } catch (const std::exception& e) {
    // 2, not 1 (a measurement failed and its table says so): the process stopped early (no
    // device, a lost CUDA context), with only this line to tell why.
    std::fprintf(stderr, "fathom-bench-cuda: %s\n", e.what());
    return 2;
  }
}
