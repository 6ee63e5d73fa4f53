#include "tenant/quota.h"

#include <algorithm>

namespace brix::tenant {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool HasWindowLimits(const Limits& l) {
  return l.requests_per_minute || l.tokens_per_minute || l.max_concurrent;
}

// Keeps the smaller remaining budget of `b` and `*into`.
void Tighten(std::optional<Budget>& into, const Budget& b) {
  if (!into || b.remaining < into->remaining) into = b;
}

}  // namespace

int64_t SlidingWindow::BucketOf(int64_t now_ms) { return FloorDiv(now_ms, kBucketMs); }

uint64_t SlidingWindow::Used(int64_t now_ms) const {
  uint64_t sum = 0;
  for (const Slot& s : slots_) {
    if (Live(s, now_ms)) sum += s.count;
  }
  return sum;
}

void SlidingWindow::Add(int64_t bucket, int64_t amount, int64_t now_ms) {
  if (bucket < BucketOf(now_ms) - kBuckets) return;  // already out of every window that counts
  Slot& s = slots_[static_cast<size_t>(bucket - FloorDiv(bucket, kBuckets + 1) * (kBuckets + 1))];
  if (s.bucket != bucket) {
    if (s.bucket > bucket) return;  // the slot moved on to a newer bucket: this one has expired
    s = Slot{bucket, 0};
  }
  if (amount >= 0) {
    s.count += static_cast<uint64_t>(amount);
  } else {
    const auto refund = static_cast<uint64_t>(-amount);
    s.count = s.count > refund ? s.count - refund : 0;
  }
}

int64_t SlidingWindow::WaitMs(int64_t now_ms, uint64_t amount, uint64_t limit) const {
  if (amount > limit) return -1;
  const uint64_t used = Used(now_ms);
  if (used + amount <= limit) return 0;
  uint64_t must_free = used + amount - limit;
  // Oldest first: bucket b stops counting when the current bucket passes b + kBuckets, i.e. at
  // (b + kBuckets + 1) * kBucketMs.
  std::array<Slot, kBuckets + 1> live{};
  size_t n = 0;
  for (const Slot& s : slots_) {
    if (Live(s, now_ms)) live[n++] = s;
  }
  std::sort(live.begin(), live.begin() + static_cast<ptrdiff_t>(n),
            [](const Slot& a, const Slot& b) { return a.bucket < b.bucket; });
  for (size_t i = 0; i < n; ++i) {
    if (live[i].count >= must_free) {
      return std::max<int64_t>((live[i].bucket + kBuckets + 1) * kBucketMs - now_ms, 1);
    }
    must_free -= live[i].count;
  }
  return kWindowMs;  // not reached: everything counted expires within the window
}

int64_t SlidingWindow::ResetMs(int64_t now_ms) const {
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const Slot& s : slots_) {
    if (Live(s, now_ms)) newest = std::max(newest, s.bucket);
  }
  if (newest == std::numeric_limits<int64_t>::min()) return 0;
  return (newest + kBuckets + 1) * kBucketMs - now_ms;
}

std::string_view LimitKindName(LimitKind kind) {
  switch (kind) {
    case LimitKind::kRequests:
      return "requests";
    case LimitKind::kTokens:
      return "tokens";
    case LimitKind::kConcurrent:
      return "concurrent";
  }
  return "requests";
}

std::vector<Scope> ScopesFor(const TenantSpec& spec, std::string_view model) {
  std::vector<Scope> scopes;
  if (HasWindowLimits(spec.limits)) scopes.push_back({spec.name, "", &spec.limits});
  auto it = spec.model_limits.find(model);
  if (it != spec.model_limits.end() && HasWindowLimits(it->second)) {
    scopes.push_back({spec.name + "/" + std::string(model), std::string(model), &it->second});
  }
  return scopes;
}

Admission LocalQuota::Admit(const TenantSpec& spec, std::string_view model, uint64_t tokens,
                            int64_t now_ms) {
  const std::vector<Scope> scopes = ScopesFor(spec, model);
  Admission out;
  out.allowed = true;
  out.grant.bucket = SlidingWindow::BucketOf(now_ms);
  out.grant.reserved_tokens = tokens;
  std::lock_guard lock(mu_);
  std::vector<State*> states;
  states.reserve(scopes.size());

  // Check every limit first; report the one that keeps the request out longest.
  auto refuse = [&](const Scope& scope, LimitKind kind, uint64_t limit, uint64_t used,
                    uint64_t requested, int64_t wait_ms) {
    const bool worse = out.allowed || (out.retry_after_ms != -1 &&
                                       (wait_ms == -1 || wait_ms > out.retry_after_ms));
    out.allowed = false;
    if (!worse) return;
    out.kind = kind;
    out.model_scope = scope.model;
    out.limit = limit;
    out.used = used;
    out.requested = requested;
    out.retry_after_ms = wait_ms;
  };
  for (const Scope& scope : scopes) {
    State& state = scopes_.try_emplace(scope.key).first->second;
    states.push_back(&state);
    const Limits& l = *scope.limits;
    if (l.requests_per_minute) {
      const uint64_t used = state.requests.Used(now_ms);
      if (used + 1 > *l.requests_per_minute) {
        refuse(scope, LimitKind::kRequests, *l.requests_per_minute, used, 1,
               state.requests.WaitMs(now_ms, 1, *l.requests_per_minute));
      }
    }
    if (l.tokens_per_minute) {
      const uint64_t used = state.tokens.Used(now_ms);
      if (used + tokens > *l.tokens_per_minute) {
        refuse(scope, LimitKind::kTokens, *l.tokens_per_minute, used, tokens,
               state.tokens.WaitMs(now_ms, tokens, *l.tokens_per_minute));
      }
    }
    if (l.max_concurrent && state.in_flight + 1 > *l.max_concurrent) {
      // When a slot frees is not known here; a second is a polite first retry.
      refuse(scope, LimitKind::kConcurrent, *l.max_concurrent, state.in_flight, 1, 1000);
    }
  }

  // Charge (only when everything fits) and report the tightest budgets.
  for (size_t i = 0; i < scopes.size(); ++i) {
    const Limits& l = *scopes[i].limits;
    State& state = *states[i];
    if (out.allowed) {
      if (l.requests_per_minute) state.requests.Add(out.grant.bucket, 1, now_ms);
      if (l.tokens_per_minute) {
        state.tokens.Add(out.grant.bucket, static_cast<int64_t>(tokens), now_ms);
        out.grant.token_scopes.push_back(scopes[i].key);
      }
      if (l.max_concurrent) {
        ++state.in_flight;
        out.grant.slot_scopes.push_back(scopes[i].key);
      }
    }
    if (l.requests_per_minute) {
      const uint64_t used = state.requests.Used(now_ms);
      Tighten(out.requests, {*l.requests_per_minute,
                             *l.requests_per_minute - std::min(used, *l.requests_per_minute),
                             state.requests.ResetMs(now_ms)});
    }
    if (l.tokens_per_minute) {
      const uint64_t used = state.tokens.Used(now_ms);
      Tighten(out.tokens,
              {*l.tokens_per_minute, *l.tokens_per_minute - std::min(used, *l.tokens_per_minute),
               state.tokens.ResetMs(now_ms)});
    }
  }
  if (!out.allowed) out.grant = Grant{};
  return out;
}

void LocalQuota::Settle(const Grant& grant, uint64_t actual_tokens, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const int64_t delta =
      static_cast<int64_t>(actual_tokens) - static_cast<int64_t>(grant.reserved_tokens);
  if (delta != 0) {
    for (const std::string& key : grant.token_scopes) {
      auto it = scopes_.find(key);
      if (it != scopes_.end()) it->second.tokens.Add(grant.bucket, delta, now_ms);
    }
  }
  for (const std::string& key : grant.slot_scopes) {
    auto it = scopes_.find(key);
    if (it != scopes_.end() && it->second.in_flight > 0) --it->second.in_flight;
  }
}

}  // namespace brix::tenant
