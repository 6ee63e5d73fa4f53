// The Redis quota backend: tenant quotas shared by every gateway pointed at one Redis.
//
// The decision is tenant::LocalQuota's, run inside Redis by one Lua script, so that check and
// consume are atomic across gateways (AIBrix reads, decides and increments in three round trips,
// so concurrent gateways overshoot): per scope, a hash of 1-second buckets for requests and one
// for tokens (the same conservative sliding window, on Redis's clock so gateways' clocks need
// not agree), and a sorted set of concurrency leases scored by their expiry (a gateway that dies
// mid-request leaks its slot only until the lease expires). Keys carry the tenant as a hash tag,
// brix:q:{tenant}:..., so one tenant's keys live in one Redis Cluster slot.
//
// Unavailable within `timeout` (Redis down, slow, or restarting) -> Admit fails with Unavailable
// and the gateway applies its fail-open or fail-closed policy; the client reconnects by itself
// (net/redis_client.h). Settlements are sent in the background; one lost in an outage costs the
// tenant its reservation until the window moves on.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "gateway/quota_backend.h"

namespace brix::gateway {

struct RedisQuotaOptions {
  std::string url;  // redis://HOST:PORT
  // Longest an admission waits for Redis.
  std::chrono::milliseconds timeout{100};
  // How long a concurrency slot is held if its gateway never releases it.
  std::chrono::milliseconds lease{std::chrono::minutes(11)};
  // Tests only: the clock (ms) the scripts use instead of Redis's TIME, so a test can walk
  // through many windows in a moment.
  std::function<int64_t()> now_ms_for_tests;
};

// Starts its own I/O thread; connects lazily (a Redis that is down at start is not an error).
Result<std::unique_ptr<QuotaBackend>> MakeRedisQuotaBackend(RedisQuotaOptions options);

}  // namespace brix::gateway
