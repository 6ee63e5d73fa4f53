// Tenancy on the request path: who is calling (API key, or AIBrix's `user` header from a trusted
// network), and the answers and headers for the quota decisions. Pure functions over the
// immutable TenantDirectory; any thread.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "gateway/tenant_store.h"
#include "net/http.h"
#include "tenant/quota.h"

namespace brix::gateway {

// Networks whose callers may name their tenant with the `user` header (a proxy in front that
// has authenticated the user itself). AIBrix trusts the header from anyone.
class TrustedNetworks {
 public:
  // Each entry is an address ("10.0.0.7", "::1") or a network ("10.0.0.0/8", "fd00::/8").
  static Result<TrustedNetworks> Parse(const std::vector<std::string>& entries);
  bool Contains(const boost::asio::ip::address& address) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

// An answer the gateway makes itself instead of forwarding.
struct Rejection {
  unsigned status = 400;
  std::string body;  // OpenAI's error envelope
  std::optional<int64_t> retry_after_s;
};

struct Identity {
  const tenant::TenantSpec* tenant = nullptr;  // set when identified
  std::optional<Rejection> rejection;          // set when not
};

// The caller's tenant: from `user` when the peer is trusted and sends one, else from the
// `Authorization: Bearer` key. Missing or unknown key, or an unknown `user` -> 401.
Identity Identify(const TenantDirectory& directory, const net::Request& request,
                  const boost::asio::ip::address& peer, const TrustedNetworks& trusted);

// 403 for a model the tenant may not use.
Rejection ModelNotAllowed(std::string_view tenant, std::string_view model);
// 400 for a max_tokens above the tenant's max_tokens_per_request.
Rejection MaxTokensTooLarge(int64_t requested, uint64_t limit);
// 429 for a refused admission, in OpenAI's words and with Retry-After (none when it can never
// fit).
Rejection RateLimited(const tenant::Admission& admission, std::string_view model);
// 503 when the quota backend cannot decide and the policy is to fail closed.
Rejection QuotaUnavailable(std::string_view why);

// OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the admission's budgets.
void AddRateLimitHeaders(const tenant::Admission& admission,
                         std::vector<std::pair<std::string, std::string>>& out);
// OpenAI's duration format for the reset headers: "250ms", "1s", "6m0s", "1m30.5s".
std::string ResetDuration(int64_t ms);

}  // namespace brix::gateway
