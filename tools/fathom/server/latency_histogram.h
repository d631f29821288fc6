// A Prometheus-style histogram of durations in seconds: cumulative counts per upper bound, the
// sum and the count. Observed from the engine thread, read by /metrics from any thread; each
// field is atomic on its own, so a reader may see one observation half-recorded, which a
// scraper tolerates (Prometheus counters are sampled, not transactional).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace fathom::server {

class LatencyHistogram {
 public:
  // Upper bounds (seconds) from 10 ms to 10 min: a decode step on a small GPU to a long CPU prefill.
  static constexpr std::array<double, 14> kBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 600};

  void observe(double seconds);

  // The Prometheus text lines of this histogram (HELP, TYPE, buckets, sum, count) for `name`.
  std::string exposition(const std::string& name, const std::string& help) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size()> buckets_{};  // per bound, not yet cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace fathom::server
