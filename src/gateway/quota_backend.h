// QuotaBackend: where the gateway's tenant quotas are counted. The in-process backend
// (tenant::LocalQuota) serves one gateway; the Redis backend (redis_quota.h) serves many gateway
// replicas with the same decisions. Both are thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/error.h"
#include "tenant/quota.h"
#include "tenant/tenant.h"

namespace brix::gateway {

class QuotaBackend {
 public:
  virtual ~QuotaBackend() = default;

  // "local" or "redis", for metrics and logs.
  virtual std::string_view name() const = 0;
  // Check-and-consume (tenant::LocalQuota::Admit's contract). Unavailable when the backend cannot
  // decide in time (Redis down or slow); the gateway then applies its failure policy.
  virtual boost::asio::awaitable<Result<tenant::Admission>> Admit(const tenant::TenantSpec& spec,
                                                                  std::string_view model,
                                                                  uint64_t tokens) = 0;
  // Ends an admitted request (LocalQuota::Settle's contract). Never blocks: a remote backend
  // sends it in the background, and a lost settlement only costs the tenant until its
  // reservations leave the window (and its concurrency leases expire).
  virtual void Settle(tenant::Grant grant, uint64_t actual_tokens) = 0;
};

// Counts in this process, on the steady clock.
std::unique_ptr<QuotaBackend> MakeLocalQuotaBackend();

}  // namespace brix::gateway
