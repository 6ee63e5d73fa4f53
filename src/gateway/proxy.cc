#include "gateway/internal/proxy.h"

#include <fmt/core.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <ctime>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "base/ids.h"
#include "net/http_status.h"
#include "net/router.h"
#include "net/sse.h"
#include "openai/api_error.h"
#include "openai/gateway.h"
#include "openai/requests.h"
#include "tokenizer/chat.h"

namespace brix::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// How many endpoints the gateway tried for this response (1 = no retry), so that clients such as
// `brix bench` can see retries. The name follows Envoy's x-envoy-attempt-count.
constexpr std::string_view kAttemptCountHeader = "x-brix-attempt-count";

// An error envelope in OpenAI's shape. `code` is raw JSON (a number, a quoted string or null).
std::string ErrorJson(std::string_view message, std::string_view type, std::string_view code,
                      std::optional<std::string_view> param = std::nullopt) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type;
  if (param) {
    error["param"] = *param;
  } else {
    error["param"] = nullptr;
  }
  boost::system::error_code ec;
  error["code"] = boost::json::parse(code, ec);
  return boost::json::serialize(boost::json::object{{"error", std::move(error)}});
}

net::Response JsonResponse(unsigned status, std::string body) {
  net::Response response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

// Hop-by-hop fields (RFC 9110 7.6.1) and framing, which each hop sets for itself.
bool IsHopByHop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::proxy_connection:
    case http::field::content_length:
      return true;
    default:
      return false;
  }
}

// Request fields not forwarded: hop-by-hop ones and those the gateway sets itself.
bool DropRequestField(http::field f, std::string_view name) {
  if (IsHopByHop(f)) return true;
  switch (f) {
    case http::field::proxy_authorization:
    case http::field::host:
    case http::field::expect:
    case http::field::accept_encoding:
      return true;
    default:
      break;
  }
  return boost::beast::iequals(name, "x-request-id") || boost::beast::iequals(name, "traceparent");
}

// Whether `name` is listed in a Connection field's options (RFC 9110 7.6.1: those fields are
// hop-by-hop too).
bool NamedInConnection(std::string_view connection, std::string_view name) {
  while (!connection.empty()) {
    const size_t comma = connection.find(',');
    std::string_view token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty() && boost::beast::iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

// Response fields not passed back: hop-by-hop ones, and Date/Server, which our server writes.
bool DropResponseField(http::field f) {
  return IsHopByHop(f) || f == http::field::date || f == http::field::server;
}

// The upstream's status and fields as the start of the client's answer, less the dropped ones.
// The upstream's header is reused rather than copied field by field.
net::ResponseHead UpstreamFields(net::ResponseHead head) {
  for (auto it = head.begin(); it != head.end();) {
    it = DropResponseField(it->name()) ? head.erase(it) : std::next(it);
  }
  head.version(11);
  head.reason("");
  return head;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// A client-supplied request id is echoed only when it is short and printable.
bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string_view KindName(RouteKind kind) {
  switch (kind) {
    case RouteKind::kChat:
      return "/v1/chat/completions";
    case RouteKind::kCompletion:
      return "/v1/completions";
    case RouteKind::kEmbedding:
      return "/v1/embeddings";
  }
  return "";
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// RFC 3339 UTC with milliseconds: "2026-11-23T10:57:00.123Z".
std::string UtcTimestamp(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()) % 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count());
}

}  // namespace

std::string NextTraceparent(std::string_view incoming, std::string* trace_id) {
  // version "00" - 32 hex trace id - 16 hex parent id - 2 hex flags; all-zero ids are invalid.
  // Built by appending: this runs for every request, and a format string costs several times
  // more.
  std::string out;
  out.reserve(55);
  out.append("00-");
  if (incoming.size() >= 55 && incoming.substr(0, 3) == "00-" && incoming[35] == '-' &&
      incoming[52] == '-' && (incoming.size() == 55 || incoming[55] == '-')) {
    std::string_view trace = incoming.substr(3, 32);
    std::string_view parent = incoming.substr(36, 16);
    std::string_view flags = incoming.substr(53, 2);
    if (IsHex(trace) && IsHex(parent) && IsHex(flags) &&
        trace.find_first_not_of('0') != std::string_view::npos &&
        parent.find_first_not_of('0') != std::string_view::npos) {
      trace_id->assign(trace);
      out.append(trace);
      out.push_back('-');
      base::AppendRandomHex(&out, 16);
      out.push_back('-');
      out.append(flags);
      return out;
    }
  }
  trace_id->clear();
  base::AppendRandomHex(trace_id, 32);
  out.append(*trace_id);
  out.push_back('-');
  base::AppendRandomHex(&out, 16);
  out.append("-00");
  return out;
}

uint64_t Proxy::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

net::HttpClient& Proxy::Client(const asio::any_io_executor& executor) {
  thread_local uint64_t owner = 0;
  thread_local net::HttpClient* client = nullptr;
  if (owner != id_ || client == nullptr) {
    std::lock_guard lock(clients_mu_);
    net::ClientConfig config;
    config.connect_timeout = ctx_.options->connect_timeout;
    // Keep as many idle upstream connections as the worker may have requests in flight: a small
    // pool closes and reopens a connection per request beyond it (TIME_WAIT piles up, and the
    // handshake costs more than the request).
    config.max_idle_per_host = ctx_.options->max_idle_upstream_connections;
    // An SSE event from vLLM is a few hundred bytes: 4 KiB reads lose nothing and save 12 KiB per
    // open stream against the client's 16 KiB default.
    config.read_chunk_bytes = 4096;
    // An engine closes a connection it answered on less than 100 ms ago only when it dies (vLLM's
    // uvicorn keeps idle ones 5 s); the request then fails before any byte reached the client and
    // is retried on another endpoint. Skipping the peek saves a system call per request.
    config.stale_check_after = std::chrono::milliseconds(100);
    clients_.push_back(std::make_unique<net::HttpClient>(executor, config));
    client = clients_.back().get();
    owner = id_;
  }
  return *client;
}

void Proxy::CloseClients() {
  std::lock_guard lock(clients_mu_);
  clients_.clear();
}

// One request's state and its record: the destructor writes the metrics and the access-log line
// however the handler ends (including a client that went away, which ends it by exception).
struct Proxy::Call {
  Call(Proxy& proxy_in, net::Request request_in, RouteKind kind_in)
      : proxy(proxy_in), request(std::move(request_in)), kind(kind_in), start(Clock::now()) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call() {
    Settle();
    Record();
  }

  void Settle();
  void Record();
  template <typename Message>
  void AddHeaders(Message& m) const {
    for (const auto& [name, value] : headers) m.set(name, value);
  }

  Proxy& proxy;
  net::Request request;
  const RouteKind kind;
  const Clock::time_point start;
  std::string request_id;
  std::string trace_id;
  std::string traceparent;
  std::string model;  // as asked; the metrics label only once known (known_model)
  bool known_model = false;
  std::string strategy;
  std::string endpoint;  // the endpoint that answered (or was tried last)
  unsigned status = 0;   // 0: the client went away before an answer
  int attempts = 0;
  bool stream = false;
  std::optional<Clock::duration> ttft;
  std::optional<openai::Usage> usage;
  std::string error;  // why the gateway itself failed the request, for the log
  // Tenancy: the directory the tenant was read from (kept alive with it), the tenant, and the
  // quota grant to settle at the end.
  std::shared_ptr<const TenantDirectory> directory;
  const tenant::TenantSpec* tenant = nullptr;
  std::optional<tenant::Grant> grant;
  // The fair-share slot held while the request runs, and how long it waited for it.
  std::optional<FairShare::Slot> slot;
  std::optional<Clock::duration> queued;  // time waited for a fair-share slot
  std::string quota_outcome;  // for the log: "admitted", "rate_limited", "unavailable", ...
  // Added to every answer: the x-ratelimit-* budgets.
  std::vector<std::pair<std::string, std::string>> headers;
};

void Proxy::Call::Settle() {
  if (slot) {
    // The fair-share counter learns the real service: the engine's usage when it came, else the
    // estimate stands.
    if (usage) {
      slot->set_usage(static_cast<double>(std::max<int64_t>(usage->prompt_tokens, 0)),
                      static_cast<double>(std::max<int64_t>(usage->completion_tokens, 0)));
    }
    slot.reset();
  }
  if (!grant) return;
  // The engine's count when the answer carried usage. Without usage: an answer that started (or
  // a client that left while it ran) keeps its reservation, since the engine may have worked;
  // a failed one had nothing served and is charged nothing.
  uint64_t actual = 0;
  if (usage) {
    actual = static_cast<uint64_t>(std::max<int64_t>(usage->prompt_tokens, 0) +
                                   std::max<int64_t>(usage->completion_tokens, 0));
  } else if (status == 0 || (status >= 200 && status < 300)) {
    actual = grant->reserved_tokens;
  }
  proxy.ctx_.quota->Settle(std::move(*grant), actual);
  grant.reset();
}

void Proxy::Call::Record() {
  const Clock::time_point end = Clock::now();
  const unsigned code = status == 0 ? net::kStatusClientClosedRequest : status;
  GatewayMetrics& m = *proxy.ctx_.metrics;
  const std::string_view label = known_model ? std::string_view(model) : std::string_view();
  m.Requests(label, endpoint, code).Inc();
  if (!quota_outcome.empty()) {
    m.TenantRequests(tenant != nullptr ? std::string_view(tenant->name) : "", quota_outcome).Inc();
  }
  if (known_model) {
    const ModelHandles& h = m.ForModel(model);
    h.duration->Observe(Seconds(end - start));
    if (ttft) h.ttft->Observe(Seconds(*ttft));
    if (attempts > 1) h.retries->Inc(static_cast<uint64_t>(attempts - 1));
    if (usage) {
      h.prompt_tokens->Inc(static_cast<uint64_t>(std::max<int64_t>(usage->prompt_tokens, 0)));
      h.completion_tokens->Inc(
          static_cast<uint64_t>(std::max<int64_t>(usage->completion_tokens, 0)));
    }
  }
  if (!proxy.ctx_.access_log) return;
  boost::json::object line;
  line["time"] = UtcTimestamp(std::chrono::system_clock::now());
  line["request_id"] = request_id;
  line["trace_id"] = trace_id;
  line["method"] = std::string_view(request.method_string());
  line["path"] = KindName(kind);
  line["model"] = model;
  line["stream"] = stream;
  line["status"] = code;
  line["endpoint"] = endpoint;
  line["routing_strategy"] = strategy;
  if (tenant != nullptr) line["tenant"] = tenant->name;
  if (!quota_outcome.empty()) line["quota"] = quota_outcome;
  if (queued) {
    line["queued_us"] = std::chrono::duration_cast<std::chrono::microseconds>(*queued).count();
  }
  line["attempts"] = attempts;
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  line["duration_us"] = duration_cast<microseconds>(end - start).count();
  if (ttft) line["ttft_us"] = duration_cast<microseconds>(*ttft).count();
  if (usage) {
    line["prompt_tokens"] = usage->prompt_tokens;
    line["completion_tokens"] = usage->completion_tokens;
  }
  if (!error.empty()) line["error"] = error;
  proxy.ctx_.access_log->info("{}", boost::json::serialize(line));
}

std::vector<uint32_t> PromptTokenIds(const tokenizer::Tokenizer& tokenizer, RouteKind kind,
                                     std::string_view body) {
  if (kind == RouteKind::kChat) {
    openai::ApiResult<openai::ChatCompletionRequest> chat =
        openai::ParseChatCompletionRequest(body);
    if (!chat) return {};
    std::vector<tokenizer::ChatMessage> messages;
    messages.reserve(chat->messages.size());
    for (openai::ChatMessage& m : chat->messages) {
      messages.push_back({std::move(m.role), std::move(m.content)});
    }
    Result<std::vector<tokenizer::TokenId>> ids =
        tokenizer::EncodeChat(tokenizer, messages, chat->add_generation_prompt);
    return ids ? std::move(*ids) : std::vector<uint32_t>{};
  }
  if (kind == RouteKind::kCompletion) {
    openai::ApiResult<openai::CompletionRequest> completion = openai::ParseCompletionRequest(body);
    if (!completion || completion->prompts.empty()) return {};
    const openai::CompletionPrompt& prompt = completion->prompts.front();
    if (prompt.is_tokens) {
      std::vector<uint32_t> ids;
      ids.reserve(prompt.token_ids.size());
      for (int64_t id : prompt.token_ids) {
        if (id < 0 || id > std::numeric_limits<uint32_t>::max()) return {};
        ids.push_back(static_cast<uint32_t>(id));
      }
      return ids;
    }
    Result<std::vector<tokenizer::TokenId>> ids =
        tokenizer.Encode(prompt.text, {.add_special_tokens = completion->add_special_tokens});
    return ids ? std::move(*ids) : std::vector<uint32_t>{};
  }
  return {};
}

awaitable<void> Proxy::Handle(net::Request request, net::ResponseWriter writer, RouteKind kind) {
  // Not a coroutine itself: one coroutine frame per request rather than two.
  return Run(std::move(request), std::move(writer), kind);
}

awaitable<void> Proxy::Run(net::Request request, net::ResponseWriter writer, RouteKind kind) {
  // The call's record: its destructor writes the metrics and the access log however this ends.
  Call call(*this, std::move(request), kind);
  const GatewayOptions& options = *ctx_.options;
  net::Request& req = call.request;

  auto rid = req.find("x-request-id");
  call.request_id = rid != req.end() && UsableRequestId(rid->value()) ? std::string(rid->value())
                                                                      : base::NewRequestId();
  auto tp = req.find("traceparent");
  call.traceparent =
      NextTraceparent(tp != req.end() ? std::string_view(tp->value()) : "", &call.trace_id);

  // Every answer the gateway makes itself carries the request id.
  auto answer = [&](unsigned status, std::string body,
                    std::optional<int> retry_after = std::nullopt) -> net::Response {
    call.status = status;
    net::Response response = JsonResponse(status, std::move(body));
    response.set("request-id", call.request_id);
    if (retry_after) response.set(http::field::retry_after, std::to_string(*retry_after));
    call.AddHeaders(response);
    return response;
  };
  auto reject = [&](Rejection r) -> net::Response {
    std::optional<int> retry_after;
    if (r.retry_after_s) retry_after = static_cast<int>(std::min<int64_t>(*r.retry_after_s, 3600));
    call.error = "rejected by tenancy";
    return answer(r.status, std::move(r.body), retry_after);
  };

  // Who is calling, before anything else is looked at.
  if (ctx_.tenants != nullptr) {
    call.directory = ctx_.tenants->load();
    Identity identity = Identify(*call.directory, req, writer.remote_address(), *ctx_.trusted);
    if (identity.rejection) {
      call.quota_outcome = "unauthenticated";
      co_await writer.Send(reject(std::move(*identity.rejection)));
      co_return;
    }
    call.tenant = identity.tenant;
  }

  openai::ApiResult<openai::RequestInfo> info = openai::InspectRequest(req.body());
  if (!info) {
    net::Response response = answer(400, openai::ErrorBody(info.error()));
    co_await writer.Send(std::move(response));
    co_return;
  }
  call.stream = info->stream && call.kind != RouteKind::kEmbedding;
  if (!info->model || info->model->empty()) {
    net::Response response = answer(400, ErrorJson("you must provide a model parameter",
                                                   "invalid_request_error", "null", "model"));
    co_await writer.Send(std::move(response));
    co_return;
  }
  call.model = *info->model;
  if (call.tenant != nullptr && !call.tenant->MayUse(call.model)) {
    call.quota_outcome = "forbidden";
    co_await writer.Send(reject(ModelNotAllowed(call.tenant->name, call.model)));
    co_return;
  }

  std::shared_ptr<const Snapshot> snapshot = ctx_.snapshot->load();
  if (!snapshot) {
    net::Response response =
        answer(503, ErrorJson("no topology loaded yet", "server_error", "503"), 1);
    co_await writer.Send(std::move(response));
    co_return;
  }

  // Strategy: the request's routing-strategy header, else the model's, else the default.
  router::Policy* policy = ctx_.default_policy;
  std::chrono::milliseconds timeout = options.request_timeout;
  auto model_settings = snapshot->models.find(call.model);
  if (model_settings != snapshot->models.end()) {
    policy = model_settings->second.policy;
    timeout = model_settings->second.request_timeout;
  }
  auto strategy_header = req.find("routing-strategy");
  if (strategy_header != req.end()) {
    router::Policy* chosen = ctx_.policies->Find(strategy_header->value());
    if (chosen == nullptr) {
      // AIBrix's message first (clients match on it), then why.
      std::string message = fmt::format("incorrect routing strategy {}: {}",
                                        std::string_view(strategy_header->value()),
                                        ctx_.policies->WhyUnknown(strategy_header->value()));
      net::Response response = answer(400, ErrorJson(message, "invalid_request_error", "400"));
      response.set("x-error-routing", "true");
      co_await writer.Send(std::move(response));
      co_return;
    }
    policy = chosen;
  }
  call.strategy = std::string(policy->name());

  // Token ids only for a policy that routes on them: tokenizing costs the worker time in
  // proportion to the prompt (tokenizer/README.md), which the other policies need not pay.
  std::vector<uint32_t> token_ids;
  if (policy->needs_tokens() && ctx_.tokenizer != nullptr) {
    token_ids = PromptTokenIds(*ctx_.tokenizer, call.kind, req.body());
  }

  // The output cap the request asks for, as vLLM will read it (a completion without one gets 16;
  // a value vLLM rejects is left for it to answer).
  openai::OutputCap asked;
  if (call.kind != RouteKind::kEmbedding) {
    asked = openai::RequestedOutputCap(*info, call.kind == RouteKind::kChat);
  }
  std::optional<int64_t> max_tokens = asked.tokens;

  // Quotas: max tokens per request, then check-and-consume of the tenant's windows.
  if (call.tenant != nullptr) {
    const tenant::TenantSpec& who = *call.tenant;
    if (call.kind != RouteKind::kEmbedding) {
      if (std::optional<uint64_t> cap = who.MaxTokensPerRequest(call.model)) {
        if (max_tokens && *max_tokens > 0 && static_cast<uint64_t>(*max_tokens) > *cap) {
          call.quota_outcome = "max_tokens";
          co_await writer.Send(reject(MaxTokensTooLarge(*max_tokens, *cap)));
          co_return;
        }
        if (!max_tokens && asked.valid) {
          max_tokens = static_cast<int64_t>(*cap);
          req.body() = openai::WithMaxTokens(req.body(), *max_tokens);
        }
      }
    }
    std::vector<tenant::Scope> scopes = tenant::ScopesFor(who, call.model);
    if (!scopes.empty()) {
      const bool counts_tokens = std::any_of(scopes.begin(), scopes.end(), [](const auto& s) {
        return s.limits->tokens_per_minute.has_value();
      });
      if (counts_tokens && token_ids.empty() && ctx_.tokenizer != nullptr) {
        token_ids = PromptTokenIds(*ctx_.tokenizer, call.kind, req.body());
      }
      const uint64_t reserve =
          token_ids.size() + static_cast<uint64_t>(std::max<int64_t>(max_tokens.value_or(0), 0));
      Result<tenant::Admission> admission = co_await ctx_.quota->Admit(who, call.model, reserve);
      if (!admission) {
        call.quota_outcome = "unavailable";
        if (!ctx_.quota_fail_open) {
          co_await writer.Send(reject(QuotaUnavailable(admission.error().message)));
          co_return;
        }
      } else if (!admission->allowed) {
        call.quota_outcome = "rate_limited";
        AddRateLimitHeaders(*admission, call.headers);
        co_await writer.Send(reject(RateLimited(*admission, call.model)));
        co_return;
      } else {
        call.quota_outcome = "admitted";
        AddRateLimitHeaders(*admission, call.headers);
        call.grant = std::move(admission->grant);
      }
    } else {
      call.quota_outcome = "unlimited";
    }
  }
  const auto prompt_tokens = static_cast<int64_t>(token_ids.size());

  // Fair-share admission: wait here, in the tenants' fair order, while the model's engines are
  // saturated (fair_share.h).
  if (ctx_.fair_share != nullptr) {
    int64_t endpoints = 0;
    for (const auto& state : snapshot->endpoints) {
      if (state->removed.load() || state->health.ejected()) continue;
      std::shared_ptr<const ServedModels> served = state->served.load();
      if (served == nullptr) continue;
      auto serves = [&](const std::vector<std::string>& names) {
        return std::find(names.begin(), names.end(), call.model) != names.end();
      };
      if (serves(served->models) || serves(served->adapters)) ++endpoints;
    }
    if (endpoints > 0) {
      FairShare::Ask ask;
      ask.model = call.model;
      if (call.tenant != nullptr) {
        ask.tenant = call.tenant->name;
        ask.weight = call.tenant->weight;
      }
      ask.prompt_tokens = static_cast<double>(prompt_tokens);
      ask.max_tokens = static_cast<double>(std::max<int64_t>(max_tokens.value_or(0), 0));
      Result<FairShare::Slot> slot =
          co_await ctx_.fair_share->Acquire(std::move(ask), endpoints, call.start + timeout);
      if (!slot) {
        call.error = slot.error().message;
        if (slot.error().code == Errc::kCancelled) co_return;
        co_await writer.Send(
            answer(503, ErrorJson(slot.error().message, "server_error", "\"overloaded\""), 1));
        co_return;
      }
      call.queued = slot->waited();
      call.slot.emplace(std::move(*slot));
    }
  }

  openai::UsageRewrite rewrite;
  if (call.stream) {
    rewrite = openai::RewriteForUsage(req.body());
  } else {
    rewrite.body = std::move(req.body());
  }
  // One copy of the body is enough while the answer streams. Swapped out rather than assigned
  // an empty string: libstdc++ keeps a string's buffer when it is assigned a short one.
  std::string().swap(req.body());
  const Clock::time_point deadline = call.start + timeout;

  std::vector<EndpointState*> tried;
  // Per worker: reused by every request on this thread (it is filled and read without a
  // suspension in between), so routing allocates nothing once warm.
  thread_local CandidateViews candidates;
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  net::HttpClient& client = Client(executor);
  std::optional<net::Response> last_upstream_error;  // a 5xx to pass through if all fail
  std::string last_upstream_endpoint;                // ... and who sent it
  std::string last_failure;
  thread_local std::mt19937_64 rng(std::random_device{}());

  // What goes to the engine, the same on every attempt but for Host: the client's fields less
  // hop-by-hop ones and those set here (DropRequestField drops them, so insert() suffices), and
  // the body as rewritten. The client sends it without moving it, and frames the body.
  net::Request upstream{req.method(), req.target(), 11};
  {
    const std::string_view connection_option = req[http::field::connection];
    for (const auto& field : req) {
      if (DropRequestField(field.name(), field.name_string())) continue;
      if (NamedInConnection(connection_option, field.name_string())) continue;
      upstream.insert(field.name(), field.name_string(), field.value());
    }
  }
  // The gateway reads the SSE and usage: the engine must not compress them.
  upstream.insert(http::field::accept_encoding, "identity");
  upstream.insert("x-request-id", call.request_id);
  upstream.insert("traceparent", call.traceparent);
  upstream.body() = std::move(rewrite.body);

  for (int attempt = 0; attempt <= options.max_retries; ++attempt) {
    // ---- route ----
    const Clock::time_point route_start = Clock::now();
    candidates.Fill(*snapshot, route_start);
    std::vector<router::EndpointView>& views = candidates.views();
    for (size_t i = 0; i < views.size(); ++i) {
      for (EndpointState* t : tried) {
        if (&candidates.state(i) == t) views[i].healthy = false;
      }
    }
    router::RouteRequest route_request;
    route_request.model = call.model;
    route_request.token_ids = token_ids;
    route_request.now_s = Seconds(route_start.time_since_epoch());
    route_request.random = rng();
    route_request.header = [&req](std::string_view name) -> std::optional<std::string_view> {
      auto it = req.find(name);
      if (it == req.end()) return std::nullopt;
      return std::string_view(it->value());
    };
    Result<size_t> picked = router::Route(*policy, route_request, views);
    if (!picked && picked.error().code == Errc::kUnavailable) {
      // Panic mode (Envoy's healthy_panic_threshold, here at 0%): when every endpoint serving
      // the model is ejected, ejection has stopped protecting anyone; try them anyway rather
      // than fail the whole model until a backoff expires.
      for (size_t i = 0; i < views.size(); ++i) {
        const bool was_tried =
            std::find(tried.begin(), tried.end(), &candidates.state(i)) != tried.end();
        if (!was_tried) views[i].healthy = true;
      }
      picked = router::Route(*policy, route_request, views);
    }
    ctx_.metrics->routing().Observe(Seconds(Clock::now() - route_start));
    if (!picked) {
      if (attempt > 0) break;  // retries ran out of endpoints: answer with the last failure
      bool warming = false;    // an endpoint whose models are not known yet may serve it
      for (const router::EndpointView& view : views) {
        warming = warming || (view.models.empty() && view.adapters.empty());
      }
      const bool unknown = picked.error().code == Errc::kNotFound &&
                           model_settings == snapshot->models.end() && !warming;
      if (unknown) {
        std::string message = fmt::format(
            "The model `{}` does not exist or you do not have access to it.", call.model);
        net::Response response = answer(
            404, ErrorJson(message, "invalid_request_error", "\"model_not_found\"", "model"));
        co_await writer.Send(std::move(response));
        co_return;
      }
      call.known_model = true;
      call.error = picked.error().message;
      std::string message =
          fmt::format("no healthy endpoint for model `{}`; retry later", call.model);
      net::Response response = answer(503, ErrorJson(message, "server_error", "503"), 1);
      co_await writer.Send(std::move(response));
      co_return;
    }
    call.known_model = true;
    EndpointState& endpoint = candidates.state(*picked);
    tried.push_back(&endpoint);
    call.endpoint = endpoint.spec.name;
    call.attempts = attempt + 1;

    // ---- forward ----
    upstream.set(http::field::host, endpoint.address);

    // The endpoint's load while this attempt lasts: one request and its prompt tokens, awaiting
    // their first token until the first body bytes come back (for a stream the first event,
    // which vLLM sends with the first token; for a whole body, its end).
    class InFlight {
     public:
      InFlight(EndpointState& s, int64_t tokens) : state_(s), tokens_(tokens) {
        state_.in_flight.fetch_add(1);
        state_.in_flight_tokens.fetch_add(tokens_);
        state_.awaiting_first_token.fetch_add(1);
        state_.awaiting_prompt_tokens.fetch_add(tokens_);
      }
      InFlight(const InFlight&) = delete;
      InFlight& operator=(const InFlight&) = delete;
      ~InFlight() {
        FirstToken();
        state_.in_flight_tokens.fetch_sub(tokens_);
        state_.in_flight.fetch_sub(1);
      }
      void FirstToken() {
        if (awaiting_) {
          awaiting_ = false;
          state_.awaiting_prompt_tokens.fetch_sub(tokens_);
          state_.awaiting_first_token.fetch_sub(1);
        }
      }

     private:
      EndpointState& state_;
      const int64_t tokens_;
      bool awaiting_ = true;
    } in_flight(endpoint, prompt_tokens);

    net::HostPort host_port = endpoint.host_port;
    Result<net::StreamingResponse> opened = co_await client.Open(host_port, upstream, deadline);
    if (!opened) {
      const Error& e = opened.error();
      if (e.code == Errc::kDeadlineExceeded) {
        call.error = e.message;
        std::string message = fmt::format("upstream {} did not answer within {} ms",
                                          endpoint.spec.name, timeout.count());
        net::Response response = answer(504, ErrorJson(message, "server_error", "504"));
        co_await writer.Send(std::move(response));
        co_return;
      }
      if (e.code == Errc::kCancelled || writer.client_gone()) co_return;
      last_failure = fmt::format("{}: {}", endpoint.spec.name, e.message);
      ctx_.on_failure(endpoint, e.message);
      continue;
    }
    net::StreamingResponse& upstream_response = *opened;
    const unsigned status = upstream_response.status();
    const auto content_type = upstream_response.head()[http::field::content_type];
    const bool sse = status == 200 && content_type.starts_with("text/event-stream");

    if (!sse) {
      // A whole body: read it, then answer. A failure before the answer is retried.
      std::string body;
      std::optional<Error> read_error;
      while (true) {
        Result<std::string_view> bytes = co_await upstream_response.Read();
        if (!bytes) {
          read_error = bytes.error();
          break;
        }
        if (bytes->empty()) break;
        if (body.size() + bytes->size() > options.max_response_bytes) {
          read_error = Error{Errc::kResourceExhausted, "upstream response too large"};
          break;
        }
        body.append(*bytes);
      }
      if (read_error) {
        if (read_error->code == Errc::kDeadlineExceeded) {
          call.error = read_error->message;
          std::string message = fmt::format("upstream {} did not answer within {} ms",
                                            endpoint.spec.name, timeout.count());
          net::Response response = answer(504, ErrorJson(message, "server_error", "504"));
          co_await writer.Send(std::move(response));
          co_return;
        }
        if (read_error->code == Errc::kCancelled || writer.client_gone()) co_return;
        if (read_error->code == Errc::kResourceExhausted) {
          call.error = read_error->message;
          std::string message = fmt::format("upstream {} answered more than {} bytes",
                                            endpoint.spec.name, options.max_response_bytes);
          net::Response response = answer(502, ErrorJson(message, "server_error", "502"));
          co_await writer.Send(std::move(response));
          co_return;
        }
        last_failure = fmt::format("{}: {}", endpoint.spec.name, read_error->message);
        ctx_.on_failure(endpoint, read_error->message);
        continue;
      }
      net::Response response{UpstreamFields(upstream_response.TakeHead())};
      response.body() = std::move(body);
      if (status >= 500) {
        ctx_.on_failure(endpoint, fmt::format("HTTP {}", status));
        last_failure = fmt::format("{}: HTTP {}", endpoint.spec.name, status);
        last_upstream_error = std::move(response);
        last_upstream_endpoint = endpoint.spec.name;
        continue;
      }
      endpoint.health.RecordSuccess(Clock::now());
      if (status == 200) {
        call.ttft = Clock::now() - call.start;
        call.usage = openai::ReadResponseUsage(response.body());
      }
      call.status = status;
      response.set("request-id", call.request_id);
      response.set("routing-strategy", call.strategy);
      response.set("target-pod", endpoint.spec.name);
      response.set(kAttemptCountHeader, std::to_string(attempt + 1));
      call.AddHeaders(response);
      co_await writer.Send(std::move(response));
      co_return;
    }

    // ---- stream ----
    // Nothing goes to the client before the upstream's first body bytes, so that a replica
    // failing before its first token is still retried elsewhere.
    Result<std::string_view> first = co_await upstream_response.Read();
    if (!first || first->empty()) {
      const std::string why = first ? "stream ended before any event" : first.error().message;
      if (!first && first.error().code == Errc::kDeadlineExceeded) {
        call.error = why;
        std::string message = fmt::format("upstream {} did not answer within {} ms",
                                          endpoint.spec.name, timeout.count());
        net::Response response = answer(504, ErrorJson(message, "server_error", "504"));
        co_await writer.Send(std::move(response));
        co_return;
      }
      if ((!first && first.error().code == Errc::kCancelled) || writer.client_gone()) co_return;
      last_failure = fmt::format("{}: {}", endpoint.spec.name, why);
      ctx_.on_failure(endpoint, why);
      continue;
    }
    in_flight.FirstToken();
    endpoint.health.RecordSuccess(Clock::now());
    net::ResponseHead head = UpstreamFields(upstream_response.TakeHead());
    head.set("request-id", call.request_id);
    head.set("routing-strategy", call.strategy);
    head.set("target-pod", endpoint.spec.name);
    head.set(kAttemptCountHeader, std::to_string(attempt + 1));
    call.AddHeaders(head);
    Result<void> started = co_await writer.StartStream(std::move(head));
    if (!started) co_return;
    call.status = 200;
    // The client has bytes, so there is no retry: free what only a retry would need. A stream
    // can last minutes, and for a long prompt its body and token ids are most of what it holds.
    std::string().swap(upstream.body());
    std::vector<uint32_t>().swap(token_ids);

    const ModelHandles& handles = ctx_.metrics->ForModel(call.model);
    net::SseParser parser;
    std::string out;
    std::optional<Clock::time_point> last_chunk;
    std::string_view bytes = *first;
    std::optional<Error> stream_error;
    while (true) {
      parser.Feed(bytes);
      while (true) {
        Result<std::optional<net::SseEvent>> next = parser.Next();
        if (!next) {
          stream_error = next.error();
          break;
        }
        if (!*next) break;
        const net::SseEvent& event = **next;
        openai::Usage usage;
        const openai::SseEventKind what = openai::ClassifySseData(event.data, &usage);
        if (what == openai::SseEventKind::kUsageOnly) {
          call.usage = usage;
          if (rewrite.strip_usage) continue;
        } else if (what == openai::SseEventKind::kChunk) {
          const Clock::time_point now = Clock::now();
          if (!last_chunk) {
            call.ttft = now - call.start;
          } else {
            handles.itl->Observe(Seconds(now - *last_chunk));
          }
          last_chunk = now;
        }
        net::AppendSseEvent(&out, event.data, event.type == "message" ? "" : event.type);
      }
      if (!out.empty()) {
        std::string piece = std::move(out);
        out.clear();
        Result<void> wrote = co_await writer.Write(std::move(piece));
        if (!wrote) co_return;  // the client went away; the upstream closes with us
      }
      if (stream_error) break;
      Result<std::string_view> more = co_await upstream_response.Read();
      if (!more) {
        stream_error = more.error();
        break;
      }
      if (more->empty()) break;
      bytes = *more;
    }
    if (stream_error) {
      // Bytes already reached the client: the only honest signal left is an error event.
      if (stream_error->code == Errc::kCancelled || writer.client_gone()) co_return;
      const bool timed_out = stream_error->code == Errc::kDeadlineExceeded;
      call.error = stream_error->message;
      call.status = timed_out ? 504 : 502;
      if (!timed_out) ctx_.on_failure(endpoint, stream_error->message);
      std::string event;
      net::AppendSseEvent(&event,
                          ErrorJson(timed_out ? "upstream timed out mid-stream"
                                              : "upstream stream failed: " + stream_error->message,
                                    "server_error", timed_out ? "504" : "502"));
      Result<void> wrote = co_await writer.Write(std::move(event));
      if (!wrote) co_return;
    }
    Result<void> finished = co_await writer.Finish();
    (void)finished;
    co_return;
  }

  // Every attempt failed before any byte reached the client.
  if (last_upstream_error) {
    call.status = last_upstream_error->result_int();
    call.endpoint = last_upstream_endpoint;
    last_upstream_error->set("request-id", call.request_id);
    last_upstream_error->set("routing-strategy", call.strategy);
    last_upstream_error->set("target-pod", last_upstream_endpoint);
    last_upstream_error->set(kAttemptCountHeader, std::to_string(call.attempts));
    call.AddHeaders(*last_upstream_error);
    net::Response response = std::move(*last_upstream_error);
    co_await writer.Send(std::move(response));
    co_return;
  }
  call.error = last_failure;
  std::string message =
      fmt::format("no endpoint for model `{}` could be reached ({})", call.model, last_failure);
  net::Response response = answer(503, ErrorJson(message, "server_error", "503"), 1);
  co_await writer.Send(std::move(response));
}

}  // namespace brix::gateway
