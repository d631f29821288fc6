#include "server/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace fathom::server {

void LatencyHistogram::observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++buckets_[i];
      break;
    }
  }
  ++count_;
  sum_micros_ += static_cast<uint64_t>(std::llround(std::max(seconds, 0.0) * 1e6));
}

std::string LatencyHistogram::exposition(const std::string& name, const std::string& help) const {
  std::ostringstream out;
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load();
    out << name << "_bucket{le=\"" << kBounds[i] << "\"} " << cumulative << "\n";
  }
  const uint64_t count = count_.load();
  out << name << "_bucket{le=\"+Inf\"} " << count << "\n";
  out << name << "_sum " << static_cast<double>(sum_micros_.load()) / 1e6 << "\n";
  out << name << "_count " << count << "\n";
  return out.str();
}

}  // namespace fathom::server
