// LatencyHistogram: latencies in log-spaced buckets (about 1% apart) from 1 us to ~6 hours, for
// distributions too large to keep every value of (every inter-token gap of a run). Quantiles
// are within 1% of the exact value; merging adds counts. Not thread-safe: one per thread, merged.
#pragma once

#include <cstdint>
#include <vector>

namespace brix::report {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(double seconds, uint64_t count = 1);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  double mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }
  double max() const { return max_; }
  // The q-quantile (0..1): the geometric middle of the bucket holding rank ceil(q * count),
  // clamped to the largest value seen; 0 when empty.
  double Quantile(double q) const;
  // (value, fraction <= value) at each non-empty bucket's upper edge, for CDF plots.
  std::vector<std::pair<double, double>> Cdf() const;

 private:
  static int Index(double seconds);
  static double UpperEdge(int index);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0;
  double max_ = 0;
};

}  // namespace brix::report
