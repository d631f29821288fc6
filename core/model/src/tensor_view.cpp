#include "fathom/model/tensor_view.h"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <utility>

#include "checked_math.h"

namespace fathom::model {
namespace {

constexpr std::array<std::pair<std::string_view, DType>, 8> kSafetensorsDTypes{{
    {"F32", DType::f32},
    {"F16", DType::f16},
    {"BF16", DType::bf16},
    {"F8_E4M3", DType::f8_e4m3fn},
    {"F8_E5M2", DType::f8_e5m2},
    {"I32", DType::i32},
    {"I64", DType::i64},
    {"U8", DType::u8},
}};

}  // namespace

std::uint64_t TensorView::element_count() const {
  // Shapes were checked against the byte size when the file was opened, so this cannot overflow.
  return detail::checked_element_count(shape).value_or(0);
}

bool dtype_from_safetensors(std::string_view name, DType& out) {
  for (const auto& [text, dtype] : kSafetensorsDTypes) {
    if (text == name) {
      out = dtype;
      return true;
    }
  }
  return false;
}

std::string_view safetensors_dtype_name(DType dtype) {
  for (const auto& [text, d] : kSafetensorsDTypes) {
    if (d == dtype) return text;
  }
  return "?";
}

void release_resident_pages(const TensorView& t) noexcept {
  if (!t.data || t.nbytes == 0 || t.in_memory) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(t.data);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + t.nbytes) / page * page;
  // Advice only: a failure leaves the pages resident, which is what not calling it would do.
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace fathom::model
