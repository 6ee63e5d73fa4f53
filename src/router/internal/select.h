// Helpers the policies share: turning RouteRequest::random into an index, and picking the
// smallest score with ties broken at random, without allocating.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

#include "base/check.h"

namespace brix::router::internal {

// floor(random * n / 2^64): uniform over [0, n) when `random` is uniform over 64 bits (the
// multiply-shift reduction; unlike `random % n` it lets the high bits decide and its bias is
// below n / 2^64). n must be positive.
inline size_t UniformIndex(uint64_t random, size_t n) {
  BRIX_CHECK(n > 0) << "no candidates";
  __extension__ using Uint128 = unsigned __int128;
  return static_cast<size_t>((static_cast<Uint128>(random) * n) >> 64);
}

// The smallest draw that UniformIndex(draw, n) maps to `k` (k < n), ceil(k * 2^64 / n). Lets
// tests and the simulator force a choice.
inline uint64_t DrawForIndex(size_t k, size_t n) {
  BRIX_CHECK(k < n) << "index " << k << " out of " << n;
  __extension__ using Uint128 = unsigned __int128;
  return static_cast<uint64_t>(((static_cast<Uint128>(k) << 64) + n - 1) / n);
}

// The index of the smallest score among items 0..n-1, where `score(i)` returns
// std::optional<double>; nullopt or NaN means the item has no score and is skipped. Ties (equal
// scores) are broken by UniformIndex(random, number of ties), counted in index order. nullopt
// when no item has a score. Two passes, no allocation; `score` must be the same both times.
template <typename ScoreFn>
std::optional<size_t> MinWithRandomTies(size_t n, uint64_t random, ScoreFn&& score) {
  double best = std::numeric_limits<double>::infinity();
  size_t ties = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::optional<double> s = score(i);
    if (!s || std::isnan(*s)) continue;
    if (ties == 0 || *s < best) {
      best = *s;
      ties = 1;
    } else if (*s == best) {
      ++ties;
    }
  }
  if (ties == 0) return std::nullopt;
  size_t wanted = UniformIndex(random, ties);
  for (size_t i = 0; i < n; ++i) {
    const std::optional<double> s = score(i);
    if (s && *s == best && wanted-- == 0) return i;
  }
  BRIX_UNREACHABLE();
  return std::nullopt;
}

// The index of the largest of `scores` (non-empty); scores within `epsilon` of the largest tie,
// and ties are broken by UniformIndex(random, number of ties), counted in index order.
inline size_t MaxWithRandomTies(std::span<const double> scores, uint64_t random,
                                double epsilon = 0) {
  BRIX_CHECK(!scores.empty()) << "no candidates";
  double best = scores[0];
  for (double s : scores) best = s > best ? s : best;
  std::optional<size_t> pick = MinWithRandomTies(scores.size(), random, [&](size_t i) {
    return scores[i] >= best - epsilon ? std::optional<double>(0.0) : std::optional<double>();
  });
  return *pick;
}

}  // namespace brix::router::internal
