// fathom_bench_cpu_ops: times the cpu backend's matrix-product paths at DeepSeek-V2-Lite shapes,
// with cold weights, against the machine's read bandwidth.
//
//   fathom_bench_cpu_ops [--threads N] [--m 1,4,16,64] [--shapes expert,expert_up,down,lm_head]
//                        [--kernels gemv_bf16,gemv_bf16dot,gemv_fp8,tiles_bf16,...]
//                        [--cold-mib 256] [--seconds 0.5] [--clock wall|thread]
//
// Paths (see backends/cpu/README.md):
//   gemv_bf16 / gemv_fp8    hand-written GEMV, weights widened in registers (FP8: E4M3 with
//                           128×128 block scales folded into x)
//   gemv_fp8lut             the E4M3 GEMV widening by table lookup (only where the CPU has
//                           AVX512_VBMI; gemv_fp8 is then the table's fp16 route)
//   gemv_fp8dot             the E4M3 lookup GEMV of matmul_precision = "bf16" (vdpbf16ps; only
//                           where the CPU has AVX512_VBMI and AVX512_BF16)
//   gemv_bf16dot            the vdpbf16ps GEMV of matmul_precision = "bf16" (x rounded to bf16;
//                           only where the CPU has AVX512_BF16)
//   gemv_q8 / gemv_q4       the GEMV on weights quantised at load (weights = "int8" | "int4":
//                           groups of 32, an f16 scale each; backends/cpu/isa/quant.h)
//   gemv_q8dot / gemv_q4dot the same weights with x quantised to int8 per group of 32, vpdpbusd
//                           (matmul_precision = "int8"; only where the CPU has AVX512_VNNI)
//   gemv_q8dot_avx2 / gemv_q4dot_avx2  the same on AVX2's vpmaddubsw (CPUs without VNNI)
//   tiles_bf16 / tiles_fp8  64-row tiles widened to f32, multiplied by oneDNN's sgemm
//   tiles_q8 / tiles_q4     the same on quantised weights
//   onednn_f32              oneDNN matmul, f32 weights packed at load, per-M primitive
//   onednn_bf16             oneDNN matmul, bf16 weights packed at load (only where oneDNN has
//                           bf16 kernels, i.e. AVX-512)
// Cold weights: each call uses the next of enough weight copies to fill --cold-mib (256 MiB by
// default, far beyond any L3), as MoE decode does. Each cell is the median time per call; GB/s
// counts the weight bytes of the stored format (what decode is bound by), GFLOP/s is 2·M·N·K.
// --clock thread times with the calling thread's CPU clock instead of the wall clock: with
// --threads 1 on a machine shared with other work, it leaves out the time the thread was not
// running (it is meaningless with more threads, whose work it does not count).
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_context.h"
#include "fathom/sdk/float_formats.hpp"
#include "isa/quant.h"
#include "matmul/gemv.h"
#include "matmul/onednn.h"
#include "matmul/tiled.h"
#include "system_info.h"

namespace {

using namespace fathom::cpu;
using Clock = std::chrono::steady_clock;

struct Shape {
  std::string name;
  int64_t k, n;
};

const std::vector<Shape> kShapes = {
    {"expert", 2048, 1408},     // V2-Lite routed expert gate/up: K = hidden, N = moe_intermediate
    {"expert_up", 2048, 10944}, // V2-Lite dense MLP gate/up (first layer): N = intermediate
    {"down", 1408, 2048},       // expert down projection
    {"lm_head", 2048, 102400},  // vocabulary projection
};

struct Args {
  int threads = 0;
  std::vector<int64_t> ms = {1, 4, 16, 64};
  std::vector<std::string> shapes = {"expert", "expert_up", "down", "lm_head"};
  std::vector<std::string> kernels = {"gemv_bf16", "gemv_bf16dot", "gemv_fp8", "gemv_fp8lut", "gemv_fp8dot", "tiles_bf16", "tiles_fp8", "onednn_f32", "onednn_bf16", "gemv_q8", "gemv_q4", "gemv_q8dot", "gemv_q4dot", "gemv_q8dot_avx2", "gemv_q4dot_avx2", "tiles_q8", "tiles_q4"};
  double cold_mib = 256;
  double seconds = 0.5;
  bool thread_clock = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (key == "--threads") a.threads = std::stoi(value), ++i;
    else if (key == "--m") {
      a.ms.clear();
      for (const auto& m : split(value)) a.ms.push_back(std::stoll(m));
      ++i;
    } else if (key == "--shapes") a.shapes = split(value), ++i;
    else if (key == "--kernels") a.kernels = split(value), ++i;
    else if (key == "--cold-mib") a.cold_mib = std::stod(value), ++i;
    else if (key == "--seconds") a.seconds = std::stod(value), ++i;
    else if (key == "--clock" && (value == "wall" || value == "thread")) a.thread_clock = value == "thread", ++i;
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads N] [--m 1,4,16,64] [--shapes ...] [--kernels ...] [--cold-mib MiB] [--seconds S] "
                   "[--clock wall|thread]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return a;
}

bool g_thread_clock = false;

double now_seconds() {
  if (!g_thread_clock) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Median seconds per call of f(i), i counting calls (to rotate weight copies).
template <typename F>
double median_time(double budget, F&& f) {
  std::vector<double> t;
  const double start = now_seconds();
  for (int i = 0; t.size() < 3 || (t.size() < 200 && now_seconds() - start < budget); ++i) {
    const double a = now_seconds();
    f(i);
    t.push_back(now_seconds() - a);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Read bandwidth over a buffer much larger than the caches (2 passes after a warm-up touch).
double read_bandwidth(CpuContext& ctx, int threads) {
  const size_t n = size_t{512} << 20 >> 2;  // 512 MiB of floats
  std::vector<float> buf(n, 1.0f);
  volatile float sink = 0;
  const double t = median_time(1.0, [&](int) {
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const size_t nt = static_cast<size_t>(omp_get_num_threads()), id = static_cast<size_t>(omp_get_thread_num());
      const size_t b = n * id / nt, e = n * (id + 1) / nt;
      total += ctx.isa->dot(buf.data() + b, buf.data() + b, static_cast<int64_t>(e - b));
    }
    sink = sink + total;
  });
  return static_cast<double>(n * sizeof(float)) / t / 1e9;
}

// Weight copies of one format: `copies` matrices of N×K, each with its own scales.
struct Weights {
  WFormat fmt;
  std::vector<std::vector<std::byte>> data;
  std::vector<std::vector<float>> scales;
  std::vector<uint16_t> group_scales;  // quantised formats: shared by the copies (1/16 of the codes)
  WeightView view(size_t i, int64_t n, int64_t k) const {
    WeightView v{fmt, data[i].data(), n, k, scales.empty() ? nullptr : scales[i].data()};
    v.group_scales = group_scales.empty() ? nullptr : group_scales.data();
    return v;
  }
};

// Normal weights quantised by the backend's own quantiser, row by row.
void quantise_weights(Weights& w, int64_t n, int64_t k, std::vector<std::byte>& codes, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 0.05f);
  const int64_t groups = k / kQuantGroup, rb = row_bytes(w.fmt, k);
  w.group_scales.resize(static_cast<size_t>(n * groups));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    for (float& v : row) v = normal(rng);
    for (int64_t g = 0; g < groups; ++g) {
      w.group_scales[static_cast<size_t>(r * groups + g)] =
          quant::quantize_group(w.fmt, row.data() + g * kQuantGroup, codes.data() + r * rb + g * (rb / groups));
    }
  }
}

Weights make_weights(WFormat fmt, int64_t n, int64_t k, size_t copies, std::mt19937& rng) {
  Weights w{fmt, {}, {}, {}};
  const size_t bytes = static_cast<size_t>(n * row_bytes(fmt, k));
  std::vector<std::byte> first(bytes);
  std::normal_distribution<float> normal(0.f, 0.05f);
  if (quantized(fmt)) {
    quantise_weights(w, n, k, first, rng);
  } else if (fmt == WFormat::e4m3) {
    for (auto& b : first) {
      uint8_t q = static_cast<uint8_t>(rng());
      if ((q & 0x7F) == 0x7F) q = 0x3F;
      b = static_cast<std::byte>(q);
    }
  } else {
    for (size_t i = 0; i < bytes / format_bytes(fmt); ++i) {
      const float v = normal(rng);
      if (fmt == WFormat::bf16) {
        const uint16_t h = fathom::sdk::floats::f32_to_bf16(v);
        std::memcpy(first.data() + 2 * i, &h, 2);
      } else {
        std::memcpy(first.data() + 4 * i, &v, 4);
      }
    }
  }
  for (size_t c = 0; c < copies; ++c) {
    w.data.push_back(first);
    if (fmt == WFormat::e4m3) {
      w.scales.emplace_back(static_cast<size_t>(((n + 127) / 128) * ((k + 127) / 128)), 0.01f);
    }
  }
  return w;
}

size_t copies_for(double cold_mib, uint64_t bytes) {
  return std::max<size_t>(2, static_cast<size_t>(cold_mib * (1 << 20) / static_cast<double>(bytes)) + 1);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  g_thread_clock = args.thread_clock;
  CpuOptions options;
  options.threads = args.threads > 0 ? args.threads : physical_cores();
  options.isa = cpu_supports(Isa::avx512) ? Isa::avx512 : cpu_supports(Isa::avx2) ? Isa::avx2 : Isa::scalar;
  omp_set_num_threads(options.threads);
  CpuContext ctx(options);

  std::printf("# fathom_bench_cpu_ops\n");
  std::printf("# machine: %s, %d threads, kernels %s, %s\n", cpu_model_name().c_str(), options.threads,
              isa_name(options.isa), ctx.dnnl.describe().c_str());
  std::printf("# read bandwidth (512 MiB, %d threads): %.1f GB/s\n", options.threads, read_bandwidth(ctx, options.threads));
  std::printf("# cold weights: >= %.0f MiB of copies per cell; median time per call (%s clock)\n", args.cold_mib,
              args.thread_clock ? "thread CPU" : "wall");
  std::printf("%-10s %-12s %4s %10s %9s %9s\n", "shape", "kernel", "M", "time_us", "GB/s", "GFLOP/s");

  std::mt19937 rng(42);
  for (const Shape& shape : kShapes) {
    if (std::find(args.shapes.begin(), args.shapes.end(), shape.name) == args.shapes.end()) continue;
    const int64_t n = shape.n, k = shape.k;
    for (const std::string& kernel : args.kernels) {
      const bool fp8 = kernel.find("fp8") != std::string::npos;
      const bool f32 = kernel == "onednn_f32";
      if (kernel == "onednn_bf16" && !ctx.dnnl.bf16_matmul()) {
        std::printf("%-10s %-12s    -  (oneDNN has no bf16 matmul on this CPU)\n", shape.name.c_str(), kernel.c_str());
        continue;
      }
      if ((kernel == "gemv_bf16dot" || kernel == "gemv_fp8dot") && !cpu_supports_avx512_bf16()) {
        std::printf("%-10s %-12s    -  (this CPU has no AVX512_BF16)\n", shape.name.c_str(), kernel.c_str());
        continue;
      }
      if ((kernel == "gemv_fp8lut" || kernel == "gemv_fp8dot") && !cpu_supports_avx512_vbmi()) {
        std::printf("%-10s %-12s    -  (this CPU has no AVX512_VBMI)\n", shape.name.c_str(), kernel.c_str());
        continue;
      }
      const bool vnni = kernel == "gemv_q8dot" || kernel == "gemv_q4dot";
      const bool avx2_dot = kernel == "gemv_q8dot_avx2" || kernel == "gemv_q4dot_avx2";
      if ((vnni && !cpu_supports_avx512_vnni()) || (avx2_dot && !cpu_supports(Isa::avx2))) {
        std::printf("%-10s %-12s    -  (this CPU cannot run it)\n", shape.name.c_str(), kernel.c_str());
        continue;
      }
      ctx.int8_dot = vnni ? &avx512_vnni_int8_dot() : avx2_dot ? &avx2_int8_dot() : nullptr;
      ctx.bf16_dot = kernel == "gemv_bf16dot" ? avx512_bf16_gemv() : nullptr;
      ctx.e4m3_gemv = kernel == "gemv_fp8lut" ? avx512_vbmi_e4m3_gemv() : nullptr;
      ctx.e4m3_bf16_gemv = kernel == "gemv_fp8dot" ? avx512_vbmi_bf16_e4m3_gemv() : nullptr;
      const WFormat fmt = fp8                                       ? WFormat::e4m3
                          : f32                                     ? WFormat::f32
                          : kernel.find("q8") != std::string::npos ? WFormat::q8
                          : kernel.find("q4") != std::string::npos ? WFormat::q4
                                                                    : WFormat::bf16;
      // What a call reads: the rows, and the group scales of the quantised formats.
      const uint64_t bytes = static_cast<uint64_t>(n * row_bytes(fmt, k) + (quantized(fmt) ? n * (k / kQuantGroup) * 2 : 0));
      const size_t copies = copies_for(args.cold_mib, bytes);
      Weights w = make_weights(fmt, n, k, copies, rng);
      std::vector<std::unique_ptr<DnnlWeights>> packed;
      if (kernel.rfind("onednn", 0) == 0) {
        const auto dt = f32 ? dnnl::memory::data_type::f32 : dnnl::memory::data_type::bf16;
        for (size_t c = 0; c < copies; ++c) {
          packed.push_back(std::make_unique<DnnlWeights>(ctx.dnnl, dt, w.data[c].data(), n, k));
          w.data[c] = {};  // keep only the packed copy, as the backend does
        }
      }
      for (int64_t m : args.ms) {
        std::vector<float> x(static_cast<size_t>(m * k)), y(static_cast<size_t>(m * n));
        std::normal_distribution<float> normal;
        for (float& v : x) v = normal(rng);
        auto call = [&](int i) {
          const size_t c = static_cast<size_t>(i) % copies;
          if (kernel.rfind("gemv", 0) == 0) gemv_multiply(ctx, w.view(c, n, k), x.data(), m, y.data(), options.threads);
          else if (kernel.rfind("tiles", 0) == 0) tiled_multiply(ctx, w.view(c, n, k), x.data(), m, y.data(), options.threads);
          else packed[c]->multiply(ctx.dnnl, *ctx.isa, x.data(), m, y.data());
        };
        for (size_t c = 0; c < std::min<size_t>(copies, 2); ++c) call(static_cast<int>(c));  // JIT, first-touch
        const double t = median_time(args.seconds, call);
        std::printf("%-10s %-12s %4lld %10.1f %9.1f %9.1f\n", shape.name.c_str(), kernel.c_str(), static_cast<long long>(m),
                    t * 1e6, static_cast<double>(bytes) / t / 1e9, 2.0 * m * n * k / t / 1e9);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
