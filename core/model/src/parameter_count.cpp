#include "fathom/model/parameter_count.h"

#include <charconv>
#include <cstdio>
#include <string_view>

#include "checked_math.h"
#include "fathom/core/error.h"
#include "fathom/model/expected_tensors.h"

namespace fathom::model {
namespace {

// Accumulates with overflow checks; a hostile config can ask for more than 2^64 parameters.
class Sum {
 public:
  explicit Sum(const std::string& source) : source_(source) {}
  void add(std::uint64_t& into, std::uint64_t n) const {
    const auto r = detail::checked_add(into, n);
    if (!r) throw invalid_argument(source_ + ": the parameter count overflows 64 bits");
    into = *r;
  }
  std::uint64_t mul(std::uint64_t a, std::uint64_t b) const {
    const auto r = detail::checked_mul(a, b);
    if (!r) throw invalid_argument(source_ + ": the parameter count overflows 64 bits");
    return *r;
  }

 private:
  const std::string& source_;
};

// The layer index of "model.layers.<N>.<rest>", or -1.
std::int64_t layer_of(std::string_view name) {
  constexpr std::string_view kPrefix = "model.layers.";
  if (!name.starts_with(kPrefix)) return -1;
  name.remove_prefix(kPrefix.size());
  std::int64_t layer = -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), layer);
  if (ec != std::errc{} || end == name.data() + name.size() || *end != '.') return -1;
  return layer;
}

bool is_mtp_shared_copy(std::string_view name) {
  return name.ends_with(".embed_tokens.weight") || name.ends_with(".shared_head.head.weight");
}

}  // namespace

ParameterCounts count_parameters(const ModelSpec& spec) {
  const Sum sum(spec.source);
  ParameterCounts c;
  std::uint64_t mtp_routed = 0;
  for_each_expected_tensor(spec, /*include_mtp=*/true, [&](const ExpectedTensor& t) {
    const auto n = detail::checked_element_count(t.shape);
    if (!n) throw invalid_argument(spec.source + ": tensor '" + t.name + "' has more than 2^64 elements");
    const bool routed = t.role == TensorRole::expert_gate_up || t.role == TensorRole::expert_down;
    if (t.mtp) {
      if (shares_main_model_parameters(t.role)) {
        sum.add(c.mtp_shared, *n);
        return;
      }
      sum.add(c.mtp, *n);
      sum.add(routed ? mtp_routed : c.mtp_activated, *n);
      return;
    }
    sum.add(c.total, *n);
    if (t.role == TensorRole::embed_tokens) {
      c.embedding = *n;
    } else if (routed) {
      sum.add(c.routed_experts, *n);
    } else {
      if (t.role == TensorRole::lm_head) c.lm_head = *n;
      sum.add(c.activated, *n);
    }
  });
  // Every routed expert has the same size, so a token's share is exactly k / E of them.
  const auto k = static_cast<std::uint64_t>(spec.num_experts_per_tok);
  const auto e = static_cast<std::uint64_t>(spec.n_routed_experts);
  sum.add(c.activated, sum.mul(c.routed_experts / e, k));
  sum.add(c.mtp_activated, sum.mul(mtp_routed / e, k));
  return c;
}

CheckpointParameterCounts count_checkpoint_parameters(const Checkpoint& checkpoint, const ModelSpec& spec) {
  const Sum sum(checkpoint.source().string());
  CheckpointParameterCounts c;
  for (const std::string& name : checkpoint.names()) {  // only what the index lists
    {
      const TensorView& t = checkpoint.get(name);
      ++c.tensors;
      sum.add(c.bytes, t.nbytes);
      const std::uint64_t n = t.element_count();
      constexpr std::string_view kScaleSuffix = "_scale_inv";
      if (std::string_view(t.name).ends_with(kScaleSuffix)) {
        const std::string weight = t.name.substr(0, t.name.size() - kScaleSuffix.size());
        const TensorView* w = checkpoint.find(weight);
        if (w != nullptr && is_fp8(w->dtype)) {
          ++c.scale_tensors;
          sum.add(c.scale_elements, n);
          continue;
        }
      }
      sum.add(c.parameters, n);
      if (layer_of(t.name) >= spec.num_hidden_layers) {
        sum.add(c.mtp, n);
        if (!is_mtp_shared_copy(t.name)) sum.add(c.mtp_unique, n);
      } else {
        sum.add(c.main, n);
      }
    }
  }
  return c;
}

std::string format_parameter_count(std::uint64_t count, int decimals) {
  struct Unit {
    double scale;
    const char* suffix;
  };
  constexpr Unit kUnits[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  for (const Unit& u : kUnits) {
    if (static_cast<double>(count) >= u.scale) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.*f%s", decimals, static_cast<double>(count) / u.scale, u.suffix);
      return buf;
    }
  }
  return std::to_string(count);
}

}  // namespace fathom::model
