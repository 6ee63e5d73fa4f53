#include "gateway/tenancy.h"

#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace brix::gateway {
namespace {

namespace ip = boost::asio::ip;

std::string Envelope(std::string_view message, std::string_view type,
                     std::optional<std::string_view> code,
                     std::optional<std::string_view> param = std::nullopt) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type;
  if (param) {
    error["param"] = *param;
  } else {
    error["param"] = nullptr;
  }
  if (code) {
    error["code"] = *code;
  } else {
    error["code"] = nullptr;
  }
  return boost::json::serialize(boost::json::object{{"error", std::move(error)}});
}

ip::address Unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  return a;
}

// "sk-brix-abc...": enough of a wrong key for its owner to recognise it, not enough to use it.
std::string Redacted(std::string_view key) {
  if (key.size() <= 12) return "***";
  return fmt::format("{}***{}", key.substr(0, 8), key.substr(key.size() - 4));
}

}  // namespace

Result<TrustedNetworks> TrustedNetworks::Parse(const std::vector<std::string>& entries) {
  TrustedNetworks out;
  for (const std::string& entry : entries) {
    boost::system::error_code ec;
    const size_t slash = entry.find('/');
    const std::string host = entry.substr(0, slash);
    const ip::address address = ip::make_address(host, ec);
    if (ec) return InvalidArgument(fmt::format("trusted caller \"{}\": not an IP address", entry));
    int prefix = address.is_v4() ? 32 : 128;
    if (slash != std::string::npos) {
      const std::string bits = entry.substr(slash + 1);
      if (bits.empty() || bits.size() > 3 ||
          bits.find_first_not_of("0123456789") != std::string::npos || std::stoi(bits) > prefix) {
        return InvalidArgument(
            fmt::format("trusted caller \"{}\": prefix length must be 0 to {}", entry, prefix));
      }
      prefix = std::stoi(bits);
    }
    if (address.is_v4()) {
      out.v4_.push_back(ip::make_network_v4(address.to_v4(), prefix).canonical());
    } else {
      out.v6_.push_back(ip::make_network_v6(address.to_v6(), prefix).canonical());
    }
  }
  return out;
}

bool TrustedNetworks::Contains(const ip::address& raw) const {
  const ip::address a = Unmapped(raw);
  if (a.is_v4()) {
    for (const ip::network_v4& n : v4_) {
      if (ip::make_network_v4(a.to_v4(), n.prefix_length()).canonical() == n) return true;
    }
    return false;
  }
  for (const ip::network_v6& n : v6_) {
    if (ip::make_network_v6(a.to_v6(), n.prefix_length()).canonical() == n) return true;
  }
  return false;
}

Identity Identify(const TenantDirectory& directory, const net::Request& request,
                  const ip::address& peer, const TrustedNetworks& trusted) {
  Identity out;
  auto user = request.find("user");
  if (user != request.end() && !trusted.empty() && trusted.Contains(peer)) {
    out.tenant = directory.ByName(user->value());
    if (out.tenant == nullptr) {
      out.rejection = Rejection{401,
                                Envelope(fmt::format("Unknown tenant \"{}\" in the user header.",
                                                     std::string_view(user->value())),
                                         "invalid_request_error", "invalid_api_key"),
                                std::nullopt};
    }
    return out;
  }
  auto auth = request.find(boost::beast::http::field::authorization);
  std::string_view value = auth != request.end() ? std::string_view(auth->value()) : "";
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() < kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), value.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    out.rejection = Rejection{
        401,
        Envelope("You didn't provide an API key. You need to provide your API key in an "
                 "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                 "invalid_request_error", std::nullopt),
        std::nullopt};
    return out;
  }
  std::string_view key = value.substr(kBearer.size());
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  out.tenant = directory.ByKeyHash(tenant::HashApiKey(key));
  if (out.tenant == nullptr) {
    out.rejection =
        Rejection{401,
                  Envelope(fmt::format("Incorrect API key provided: {}.", Redacted(key)),
                           "invalid_request_error", "invalid_api_key"),
                  std::nullopt};
  }
  return out;
}

Rejection ModelNotAllowed(std::string_view tenant, std::string_view model) {
  return {
      403,
      Envelope(fmt::format("Tenant \"{}\" does not have access to model \"{}\".", tenant, model),
               "invalid_request_error", "model_not_allowed", "model"),
      std::nullopt};
}

Rejection MaxTokensTooLarge(int64_t requested, uint64_t limit) {
  return {400,
          Envelope(fmt::format("max_tokens is {}, above this key's limit of {} tokens per request.",
                               requested, limit),
                   "invalid_request_error", "max_tokens_exceeded", "max_tokens"),
          std::nullopt};
}

Rejection RateLimited(const tenant::Admission& a, std::string_view model) {
  const std::string_view kind = tenant::LimitKindName(a.kind);
  const std::string where =
      a.model_scope.empty() ? std::string() : fmt::format(" on model {}", model);
  std::string message;
  if (a.kind == tenant::LimitKind::kConcurrent) {
    message = fmt::format(
        "Concurrent request limit reached{}: Limit {}, In flight {}. Please "
        "try again when a request has finished.",
        where, a.limit, a.used);
  } else if (a.retry_after_ms < 0) {
    message = fmt::format(
        "Request too large{}: {} per minute: Limit {}, Requested {}. Reduce "
        "the prompt or max_tokens.",
        where, kind, a.limit, a.requested);
  } else {
    message = fmt::format(
        "Rate limit reached for {} per minute{}: Limit {}, Used {}, Requested "
        "{}. Please try again in {}.",
        kind, where, a.limit, a.used, a.requested, ResetDuration(a.retry_after_ms));
  }
  Rejection r{429, Envelope(message, kind, "rate_limit_exceeded"), std::nullopt};
  if (a.retry_after_ms >= 0)
    r.retry_after_s = std::max<int64_t>(1, (a.retry_after_ms + 999) / 1000);
  return r;
}

Rejection QuotaUnavailable(std::string_view why) {
  return {503,
          Envelope(fmt::format("The rate limiter is unavailable ({}); try again shortly.", why),
                   "server_error", "rate_limiter_unavailable"),
          1};
}

void AddRateLimitHeaders(const tenant::Admission& a,
                         std::vector<std::pair<std::string, std::string>>& out) {
  auto add = [&](std::string_view kind, const std::optional<tenant::Budget>& b) {
    if (!b) return;
    out.emplace_back(fmt::format("x-ratelimit-limit-{}", kind), std::to_string(b->limit));
    out.emplace_back(fmt::format("x-ratelimit-remaining-{}", kind), std::to_string(b->remaining));
    out.emplace_back(fmt::format("x-ratelimit-reset-{}", kind), ResetDuration(b->reset_ms));
  };
  add("requests", a.requests);
  add("tokens", a.tokens);
}

std::string ResetDuration(int64_t ms) {
  if (ms < 1000) return fmt::format("{}ms", std::max<int64_t>(ms, 0));
  const int64_t minutes = ms / 60'000;
  const int64_t rest_ms = ms % 60'000;
  std::string seconds = rest_ms % 1000 == 0 ? fmt::format("{}s", rest_ms / 1000)
                                            : fmt::format("{:g}s", rest_ms / 1000.0);
  return minutes > 0 ? fmt::format("{}m{}", minutes, seconds) : seconds;
}

}  // namespace brix::gateway
