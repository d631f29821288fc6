// The CPU backend: every op of the DeepSeek graph on the host, with oneDNN for the large matrix
// products and hand-written AVX-512 / AVX2 kernels (chosen at run time) for everything else.
// Design notes and measurements: README.md and docs/performance.md.
#include <omp.h>

#include <memory>
#include <string>
#include <vector>

#include "cpu_context.h"
#include "fathom/sdk/host_backend.hpp"
#include "fathom/sdk/plugin.hpp"
#include "ops/ops.h"
#include "system_info.h"

namespace fathom::cpu {

namespace {

class CpuBackend final : public sdk::HostBackend {
 public:
  explicit CpuBackend(const CpuOptions& options) : ctx_(options) { use_threads(); }

  void device_info(uint32_t, fathom_device_info& out) override {
    out.kind = FATHOM_DEVICE_CPU;
    sdk::copy_text(out.name, sizeof out.name, cpu_model_name() + " (" + std::to_string(ctx_.threads()) + " threads)");
    std::string d = std::string(isa_description(ctx_.options.isa)) + (ctx_.options.isa_forced ? " (forced)" : "") + "; " +
                    ctx_.dnnl.describe() + "; matmuls " +
                    matmul_text() +
                    weights_text() +
                    "; GEMV up to " + std::to_string(ctx_.options.gemv_max_rows) + " rows; weights " +
                    weight_memory_name(ctx_.options.weight_memory);
    sdk::copy_text(out.description, sizeof out.description, d);
    out.total_memory = total_memory_bytes();
    out.free_memory = available_memory_bytes();
  }

  std::string weights_text() const {
    const WeightStorage w = ctx_.options.weights;
    if (w == WeightStorage::int8 || w == WeightStorage::int4)
      return std::string("; matmul weights quantised to ") + weight_storage_name(w) + " at load";
    return std::string("; FP8 weights kept as ") + weight_storage_name(w) +
           (ctx_.e4m3_gemv && w == WeightStorage::fp8 ? " (widened by VBMI lookup)" : "");
  }

  // Which bf16 kernels matmul_precision = "bf16" found on this CPU.
  std::string matmul_text() const {
    if (ctx_.options.int8_matmuls) {
      if (!ctx_.int8_dot) return "f32 (int8 activations need the AVX2 or AVX-512 kernels)";
      return std::string("f32, int8 activations for int8/int4 weights (") +
             (ctx_.int8_dot == &avx512_vnni_int8_dot() ? "AVX512_VNNI" : "AVX2") + ")";
    }
    if (!ctx_.options.bf16_matmuls) return "f32";
    const bool dnnl = ctx_.dnnl.bf16_matmul(), gemv = ctx_.bf16_dot != nullptr;
    if (!dnnl && !gemv) return "f32 (no bf16 kernels on this CPU)";
    return std::string("bf16 (") + (dnnl ? "oneDNN" : "") + (dnnl && gemv ? ", " : "") + (gemv ? "vdpbf16ps GEMV" : "") + ")";
  }

  std::vector<uint32_t> op_kinds() override {
    return {FATHOM_OP_EMBEDDING,     FATHOM_OP_RMS_NORM,  FATHOM_OP_MATMUL,       FATHOM_OP_ADD,
            FATHOM_OP_SILU_MUL,      FATHOM_OP_ROPE_YARN, FATHOM_OP_MLA_ATTENTION, FATHOM_OP_MOE_ROUTE,
            FATHOM_OP_MOE_EXPERTS,   FATHOM_OP_SLICE,     FATHOM_OP_CONCAT,       FATHOM_OP_CONVERT};
  }

  fathom_executable* compile(uint32_t device, const fathom_segment& segment,
                             std::span<const fathom_binding> bindings) override {
    use_threads();  // oneDNN bakes the thread count into the primitives made while packing
    return HostBackend::compile(device, segment, bindings);
  }

  void run(fathom_executable* executable, std::span<const fathom_binding> bindings, int64_t n_tokens) override {
    use_threads();
    HostBackend::run(executable, bindings, n_tokens);
  }

 protected:
  fathom_op_support support(const fathom_op_desc& op) override { return op_support(op); }

  std::unique_ptr<sdk::PreparedNode> prepare(const sdk::PrepareArgs& args) override {
    switch (args.op.op) {
      case FATHOM_OP_EMBEDDING: return prepare_embedding(ctx_, args);
      case FATHOM_OP_RMS_NORM: return prepare_rms_norm(ctx_, args);
      case FATHOM_OP_MATMUL: return prepare_matmul(ctx_, args);
      case FATHOM_OP_ADD: return prepare_add(ctx_, args);
      case FATHOM_OP_SILU_MUL: return prepare_silu_mul(ctx_, args);
      case FATHOM_OP_ROPE_YARN: return prepare_rope_yarn(ctx_, args);
      case FATHOM_OP_MLA_ATTENTION: return prepare_mla_attention(ctx_, args);
      case FATHOM_OP_MOE_ROUTE: return prepare_moe_route(ctx_, args);
      case FATHOM_OP_MOE_EXPERTS: return prepare_moe_experts(ctx_, args);
      case FATHOM_OP_SLICE: return prepare_slice(ctx_, args);
      case FATHOM_OP_CONCAT: return prepare_concat(ctx_, args);
      case FATHOM_OP_CONVERT: return prepare_convert(ctx_, args);
      default: sdk::fail_unsupported("the cpu backend has no kernel for op " + std::to_string(args.op.op));
    }
  }

 private:
  // omp_set_num_threads sets the calling thread's default; the host may call from any thread,
  // so every entry that starts parallel work sets it first.
  void use_threads() const { omp_set_num_threads(ctx_.threads()); }

  CpuContext ctx_;
};

struct CpuPlugin {
  static constexpr const char* name = "cpu";
  static constexpr const char* version = "0.1.0";
  static int32_t probe(char*, size_t) {
    // Runs on any CPU (the scalar table is the floor); prefer it where vector kernels exist.
    return cpu_supports(Isa::avx2) ? 2 : 1;
  }
  static const fathom_option_decl* options() { return option_declarations(); }
  static sdk::Backend* create(const fathom_host_api&, const fathom_options& options) {
    return new CpuBackend(parse_options(options));
  }
};

}  // namespace
}  // namespace fathom::cpu

FATHOM_DEFINE_PLUGIN(fathom::cpu::CpuPlugin)
