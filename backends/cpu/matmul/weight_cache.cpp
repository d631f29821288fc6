#include "matmul/weight_cache.h"

#include "matmul/matrix.h"

namespace fathom::cpu {

std::shared_ptr<const Matrix> WeightCache::matrix(const WeightView& w,
                                                  const std::function<std::shared_ptr<const Matrix>()>& make) {
  const Key key{w.data, w.scales, static_cast<int>(w.fmt), w.rows, w.cols};
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {  // forget matrices nobody holds
    it = it->second.expired() ? entries_.erase(it) : std::next(it);
  }
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (auto m = it->second.lock()) return m;
  }
  std::shared_ptr<const Matrix> m = make();
  entries_[key] = m;
  return m;
}

}  // namespace fathom::cpu
