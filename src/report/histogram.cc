#include "report/histogram.h"

#include <algorithm>
#include <cmath>

namespace brix::report {

namespace {
constexpr double kMin = 1e-6;     // values below land in bucket 0
constexpr double kGrowth = 1.01;  // bucket i covers [kMin * g^(i-1), kMin * g^i)
constexpr int kBuckets = 2400;    // up to kMin * 1.01^2400 ~ 2.2e4 s
const double kLogGrowth = std::log(kGrowth);
}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

int LatencyHistogram::Index(double seconds) {
  if (!(seconds > kMin)) return 0;
  const int i = static_cast<int>(std::ceil(std::log(seconds / kMin) / kLogGrowth));
  return std::clamp(i, 0, kBuckets - 1);
}

double LatencyHistogram::UpperEdge(int index) { return kMin * std::pow(kGrowth, index); }

void LatencyHistogram::Record(double seconds, uint64_t count) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  buckets_[Index(seconds)] += count;
  count_ += count;
  sum_ += seconds * static_cast<double>(count);
  max_ = std::max(max_, seconds);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const double middle = i == 0 ? kMin : UpperEdge(i) / std::sqrt(kGrowth);
      return std::min(middle, max_);
    }
  }
  return max_;
}

std::vector<std::pair<double, double>> LatencyHistogram::Cdf() const {
  std::vector<std::pair<double, double>> points;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    if (buckets_[i] == 0) continue;
    seen += buckets_[i];
    points.emplace_back(std::min(UpperEdge(i), max_),
                        static_cast<double>(seen) / static_cast<double>(count_));
  }
  return points;
}

}  // namespace brix::report
