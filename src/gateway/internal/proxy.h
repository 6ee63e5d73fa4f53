// Proxy: the gateway's request path for the generation and embedding routes. Routes a request to
// an endpoint, forwards it, streams the answer back, retries on another endpoint when a failure
// happens before any byte reached the client, and records metrics and the access log.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "gateway/endpoints.h"
#include "gateway/fair_share.h"
#include "gateway/gateway.h"
#include "gateway/gateway_metrics.h"
#include "gateway/quota_backend.h"
#include "gateway/tenancy.h"
#include "gateway/tenant_store.h"
#include "net/client.h"
#include "net/server.h"
#include "tokenizer/tokenizer.h"

namespace brix::gateway {

enum class RouteKind { kChat, kCompletion, kEmbedding };

struct ProxyContext {
  const GatewayOptions* options = nullptr;
  const PolicySet* policies = nullptr;
  router::Policy* default_policy = nullptr;
  // Tokenizes prompts for policies that route on token ids; null when the gateway has none.
  const tokenizer::Tokenizer* tokenizer = nullptr;
  const std::atomic<std::shared_ptr<const Snapshot>>* snapshot = nullptr;
  GatewayMetrics* metrics = nullptr;
  std::shared_ptr<spdlog::logger> access_log;  // null: no access log
  // Tenancy. Null `tenants`: an open gateway (no keys, no quotas). Otherwise every request needs a
  // key (or a `user` header from a `trusted` network) and passes `quota` before routing.
  const std::atomic<std::shared_ptr<const TenantDirectory>>* tenants = nullptr;
  QuotaBackend* quota = nullptr;
  const TrustedNetworks* trusted = nullptr;
  // When the quota backend cannot decide: admit uncounted (true) or answer 503 (false).
  bool quota_fail_open = true;
  // Fair-share admission when engines are saturated; null when off.
  FairShare* fair_share = nullptr;
  // A request to `state` failed in a way that counts towards ejection.
  std::function<void(EndpointState& state, std::string_view why)> on_failure;
};

class Proxy {
 public:
  explicit Proxy(ProxyContext context) : ctx_(std::move(context)) {}

  // Handles one request on the calling worker.
  boost::asio::awaitable<void> Handle(net::Request request, net::ResponseWriter writer,
                                      RouteKind kind);

  // Destroys the per-worker upstream clients. Only after the server has stopped.
  void CloseClients();

 private:
  struct Call;
  net::HttpClient& Client(const boost::asio::any_io_executor& executor);
  boost::asio::awaitable<void> Run(net::Request request, net::ResponseWriter writer,
                                   RouteKind kind);

  ProxyContext ctx_;
  std::mutex clients_mu_;
  std::vector<std::unique_ptr<net::HttpClient>> clients_;  // guarded by clients_mu_
  const uint64_t id_ = NextId();
  static uint64_t NextId();
};

// Builds the W3C traceparent to send upstream: the client's trace id and flags with this hop's
// new parent id, or a new trace when the client sent none or a malformed one. *trace_id receives
// the trace id.
std::string NextTraceparent(std::string_view incoming, std::string* trace_id);

// The prompt's token ids as the engine will see them, for policies that route on them: a chat
// request's messages in the canonical chat serialisation (tokenizer/chat.h, with the generation
// prompt when the request asks for it), a completion's first prompt (text encoded with the
// request's add_special_tokens, or the ids it sent). Empty for embeddings and for bodies that do
// not parse: the engine answers those with its own error, and routing needs no ids for that.
std::vector<uint32_t> PromptTokenIds(const tokenizer::Tokenizer& tokenizer, RouteKind kind,
                                     std::string_view body);

}  // namespace brix::gateway
