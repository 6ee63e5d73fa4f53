// Quotas: check-and-consume of a tenant's limits (tenant.h) at admission, settled at the end.
//
//   LocalQuota quota;
//   Admission a = quota.Admit(spec, "llama-3.1-8b", /*tokens=*/prompt + max_tokens, now_ms);
//   if (!a.allowed) -> 429 with Retry-After = a.retry_after_ms (rounded up to seconds)
//   ... the request runs ...
//   quota.Settle(a.grant, prompt + completion_tokens);  // refunds the unused reservation,
//                                                       // frees the concurrency slot
//
// Windows. Per-minute limits are checked over a sliding window kept in 1-second buckets and read
// conservatively: an admission at time t counts every bucket that overlaps (t - 60 s, t], i.e.
// the 60 whole seconds before t's second and t's own. So for any 60-second window, the last
// request admitted in it saw everything admitted before it in that window, and the total never
// exceeds the limit (zero overshoot); the price is admitting up to one bucket's worth less than
// an exact sliding log would near the window's edge. AIBrix instead counts fixed per-minute
// buckets after the fact (a burst across a minute boundary gets twice the limit).
//
// Tokens are reserved at admission (prompt tokens plus the request's max_tokens) and settled to
// the real prompt + completion tokens at the end, in the admission's bucket; with a max_tokens
// on every request (max_tokens_per_request gives one to requests without) the window can never
// hold more tokens than the limit. A request whose own tokens exceed the limit can never fit:
// retry_after_ms = -1.
//
// The Redis backend (gateway/redis_quota.h) keeps the same buckets in Redis and runs the same
// check in one Lua script, so both backends make the same decisions. Pure; LocalQuota is
// thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/tenant.h"

namespace brix::tenant {

// A count over the last minute in 1-second buckets (see the header comment for the reading).
class SlidingWindow {
 public:
  static constexpr int64_t kWindowMs = 60'000;
  static constexpr int64_t kBucketMs = 1'000;
  static constexpr int64_t kBuckets = kWindowMs / kBucketMs;  // counted: kBuckets + 1

  static int64_t BucketOf(int64_t now_ms);

  // What the buckets overlapping (now - 60 s, now] hold.
  uint64_t Used(int64_t now_ms) const;
  // Adds `amount` (negative: a refund, never below 0) to `bucket` if it still counts at now_ms.
  void Add(int64_t bucket, int64_t amount, int64_t now_ms);
  // Milliseconds from now_ms until Used() + amount <= limit: 0 if it fits now, -1 if it never
  // can (amount > limit).
  int64_t WaitMs(int64_t now_ms, uint64_t amount, uint64_t limit) const;
  // When the oldest counted amount stops counting (0 when empty): the OpenAI reset headers.
  int64_t ResetMs(int64_t now_ms) const;

 private:
  struct Slot {
    int64_t bucket = std::numeric_limits<int64_t>::min();
    uint64_t count = 0;
  };
  bool Live(const Slot& s, int64_t now_ms) const {
    return s.bucket >= BucketOf(now_ms) - kBuckets && s.count > 0;
  }
  std::array<Slot, kBuckets + 1> slots_;
};

enum class LimitKind { kRequests, kTokens, kConcurrent };
// "requests", "tokens", "concurrent" (OpenAI's 429 `type` for the first two).
std::string_view LimitKindName(LimitKind kind);

// One limit as an admission left it, for the x-ratelimit-* response headers.
struct Budget {
  uint64_t limit = 0;
  uint64_t remaining = 0;
  int64_t reset_ms = 0;  // until the window is empty again
};

// What Settle needs: the scopes charged and the slots held. Scope keys: the tenant's name, or
// "<tenant>/<model>" (names cannot hold '/').
struct Grant {
  int64_t bucket = 0;
  uint64_t reserved_tokens = 0;
  std::vector<std::string> token_scopes;
  std::vector<std::string> slot_scopes;
  std::string lease;  // the Redis backend's concurrency lease id; unused in-process
};

struct Admission {
  bool allowed = false;
  // Refused: which limit, the model whose limit it was (empty: the tenant's), and the numbers
  // for the message.
  LimitKind kind = LimitKind::kRequests;
  std::string model_scope;
  uint64_t limit = 0;
  uint64_t used = 0;
  uint64_t requested = 0;
  int64_t retry_after_ms = 0;  // -1: can never fit
  // The tightest remaining budget of each kind over the scopes checked (absent: no such limit).
  std::optional<Budget> requests;
  std::optional<Budget> tokens;
  Grant grant;  // allowed: hand to Settle exactly once
};

// The scopes a request of `spec` for `model` is checked in, with their limits.
struct Scope {
  std::string key;
  std::string model;  // empty for the tenant's own scope
  const Limits* limits;
};
std::vector<Scope> ScopesFor(const TenantSpec& spec, std::string_view model);

// The in-process backend: one gateway's counters in memory.
class LocalQuota {
 public:
  // All or nothing: either every limit of every scope has room (and all are charged) or nothing
  // is charged. `tokens` = prompt tokens + the max_tokens reserved.
  Admission Admit(const TenantSpec& spec, std::string_view model, uint64_t tokens, int64_t now_ms);
  // Ends an admitted request: its tokens become `actual_tokens` (prompt + completion) in the
  // admission's bucket, and its concurrency slots are freed.
  void Settle(const Grant& grant, uint64_t actual_tokens, int64_t now_ms);

 private:
  struct State {
    SlidingWindow requests;
    SlidingWindow tokens;
    uint64_t in_flight = 0;
  };
  std::mutex mu_;
  std::map<std::string, State, std::less<>> scopes_;  // guarded by mu_
};

}  // namespace brix::tenant
