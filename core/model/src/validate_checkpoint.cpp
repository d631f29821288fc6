#include "fathom/model/validate_checkpoint.h"

#include <algorithm>
#include <unordered_set>

#include "fathom/core/error.h"
#include "fathom/model/expected_tensors.h"
#include "fathom/sdk/tensor.hpp"
#include "json_input.h"

namespace fathom::model {
namespace {

std::string file_of(const Checkpoint& ckpt, const TensorView& t) {
  return t.file != nullptr ? t.file->string() : ckpt.source().string();
}

class Validator {
 public:
  Validator(const ModelSpec& spec, const Checkpoint& ckpt, CheckpointReport& report)
      : spec_(spec), ckpt_(ckpt), report_(report) {
    if (spec.quantization) block_ = spec.quantization->weight_block_size;
  }

  void check_present(const ExpectedTensor& e) {
    const TensorView* t = ckpt_.find(e.name);
    if (t == nullptr) {
      throw not_found(ckpt_.source().string() + ": tensor '" + e.name + "' is missing; " + spec_.source + " (" +
                      shape_origin(spec_, e.role) + ") implies it with shape " + detail::format_shape(e.shape));
    }
    check(e, *t);
  }

  void check(const ExpectedTensor& e, const TensorView& t) {
    if (t.shape != e.shape) {
      throw invalid_argument(file_of(ckpt_, t) + ": tensor '" + e.name + "' has shape " +
                             detail::format_shape(t.shape) + " but " + spec_.source + " (" +
                             shape_origin(spec_, e.role) + ") implies " + detail::format_shape(e.shape));
    }
    check_dtype(e, t);
    accounted_.insert(e.name);
    ++report_.tensors_checked;
  }

  // Names in the checkpoint that nothing accounted for.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const std::string& name : ckpt_.names()) {
      if (!accounted_.contains(name)) out.push_back(name);
    }
    return out;
  }

 private:
  // GGUF blocks feed matrix products and the embedding lookup; the router and MLA's kv_b take
  // float weights (a GGUF file's kv_b is dequantised on load).
  static bool blocks_allowed(TensorRole role) {
    switch (role) {
      case TensorRole::embed_tokens: case TensorRole::lm_head: case TensorRole::q_proj: case TensorRole::q_a_proj:
      case TensorRole::q_b_proj: case TensorRole::kv_a_proj_with_mqa: case TensorRole::o_proj:
      case TensorRole::dense_gate_up: case TensorRole::dense_down: case TensorRole::expert_gate_up:
      case TensorRole::expert_down: case TensorRole::shared_expert_gate_up: case TensorRole::shared_expert_down:
        return true;
      default:
        return false;
    }
  }

  void check_dtype(const ExpectedTensor& e, const TensorView& t) {
    const std::string where = file_of(ckpt_, t) + ": tensor '" + e.name + "'";
    if (t.blocks != GgmlBlocks::none) {
      if (!blocks_allowed(e.role)) {
        throw unsupported(where + " is quantised in GGUF blocks, which Fathom reads for matrix products and the "
                          "embedding only; this tensor must be F32, BF16 or F16");
      }
      const std::int64_t block = sdk::ggml_block_weights(layout_of(t.blocks));
      if (e.shape.size() != 2 || e.shape[1] % block != 0) {
        throw invalid_argument(where + ": GGUF blocks need rows that are whole blocks of " + std::to_string(block));
      }
      ++report_.ggml_weights;
      return;
    }
    const std::string dtype(safetensors_dtype_name(t.dtype));
    switch (t.dtype) {
      case DType::f32:
      case DType::bf16:
      case DType::f16: return;
      case DType::f8_e4m3fn: {
        if (!e.fp8_allowed) {
          throw invalid_argument(where +
                                 " is F8_E4M3, but only the linear weights inside decoder layers may be FP8; "
                                 "this tensor must be F32, BF16 or F16");
        }
        const TensorView* scale = ckpt_.scale_for(t, block_);
        accounted_.insert(scale->name);
        ++report_.fp8_weights;
        return;
      }
      case DType::f8_e5m2: throw unsupported(where + " is F8_E5M2; FP8 weights must be F8_E4M3 (DeepSeek's format)");
      default:
        throw invalid_argument(where + " has dtype " + dtype + "; expected a float type (F32, BF16, F16" +
                               (e.fp8_allowed ? ", or F8_E4M3 with a scale)" : ")"));
    }
  }

  const ModelSpec& spec_;
  const Checkpoint& ckpt_;
  CheckpointReport& report_;
  std::array<std::int64_t, 2> block_ = kDefaultFp8Block;
  std::unordered_set<std::string> accounted_;
};

std::string mtp_prefix(const ModelSpec& spec) {
  return "model.layers." + std::to_string(spec.num_hidden_layers) + ".*";
}

}  // namespace

CheckpointReport validate_checkpoint(const ModelSpec& spec, const Checkpoint& checkpoint) {
  CheckpointReport report;
  Validator v(spec, checkpoint, report);
  std::vector<ExpectedTensor> mtp;
  for_each_expected_tensor(spec, /*include_mtp=*/true, [&](const ExpectedTensor& e) {
    if (e.mtp) {
      mtp.push_back(e);
    } else {
      v.check_present(e);
    }
  });

  report.mtp_declared = spec.num_nextn_predict_layers > 0;
  const auto present = static_cast<std::size_t>(
      std::count_if(mtp.begin(), mtp.end(), [&](const ExpectedTensor& e) { return checkpoint.find(e.name); }));
  if (report.mtp_declared && present == 0) {
    report.notes.push_back(
        spec.source + " declares num_nextn_predict_layers = " + std::to_string(spec.num_nextn_predict_layers) +
        " but the checkpoint holds no MTP tensors (" + mtp_prefix(spec) + "); MTP speculative decoding is unavailable");
  } else if (present > 0) {
    for (const ExpectedTensor& e : mtp) {
      if (checkpoint.find(e.name) == nullptr) {
        throw not_found(checkpoint.source().string() + ": the MTP module is incomplete (" + std::to_string(present) +
                        " of " + std::to_string(mtp.size()) + " tensors present): tensor '" + e.name + "' is missing");
      }
      v.check(e, checkpoint.get(e.name));
    }
    report.mtp_present = true;
  }

  report.unexpected = v.leftovers();
  if (!report.unexpected.empty()) {
    report.notes.push_back(std::to_string(report.unexpected.size()) + " tensor(s) not described by " + spec.source +
                           " are ignored, e.g. '" + report.unexpected.front() + "'");
  }
  if (report.fp8_weights > 0 && !spec.quantization) {
    report.notes.push_back(std::to_string(report.fp8_weights) + " FP8 weights but " + spec.source +
                           " has no quantization_config; they are used with their block scales");
  }
  if (report.fp8_weights == 0 && spec.quantization) {
    report.notes.push_back(spec.source + " has a quantization_config but no weight is FP8 (a dequantised checkpoint?)");
  }
  return report;
}

}  // namespace fathom::model
