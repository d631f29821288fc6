// Prepared weights shared between the executables of one backend. A model compiles several
// graphs over the same weight buffers (prefill, decode, MTP); packing or dequantising a matrix
// once per graph would multiply the memory, so prepared matrices are looked up by the identity
// of their source (address, scales, dtype, shape) and live as long as some executable uses them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

namespace fathom::cpu {

class Matrix;
struct WeightView;

class WeightCache {
 public:
  std::shared_ptr<const Matrix> matrix(const WeightView& w, const std::function<std::shared_ptr<const Matrix>()>& make);

 private:
  using Key = std::tuple<const void*, const void*, int, int64_t, int64_t>;
  std::mutex mutex_;
  std::map<Key, std::weak_ptr<const Matrix>> entries_;
};

}  // namespace fathom::cpu
