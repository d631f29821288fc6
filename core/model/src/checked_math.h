// Overflow-checked unsigned arithmetic for sizes read from untrusted files.
//
// Every product of a shape and every offset sum in this library goes through these, so a header
// that claims a [2^40, 2^40] tensor produces an error instead of a wrapped size.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace fathom::model::detail {

inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Product of non-negative dimensions; nullopt on overflow or a negative dimension.
inline std::optional<std::uint64_t> checked_element_count(std::span<const std::int64_t> shape) {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) return std::nullopt;
    auto next = checked_mul(n, static_cast<std::uint64_t>(d));
    if (!next) return std::nullopt;
    n = *next;
  }
  return n;
}

// For a >= 0, b > 0; written without a + b - 1 so that it cannot overflow.
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

}  // namespace fathom::model::detail
