#include "gateway/gateway.h"

#include <fmt/core.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/check.h"
#include "base/ids.h"
#include "base/logging.h"
#include "gateway/admin.h"
#include "gateway/endpoints.h"
#include "gateway/gateway_metrics.h"
#include "gateway/internal/proxy.h"
#include "gateway/quota_backend.h"
#include "gateway/redis_quota.h"
#include "gateway/tenancy.h"
#include "gateway/tenant_store.h"
#include "metrics/exposition.h"
#include "metrics/parser.h"
#include "net/router.h"
#include "router/engine_metrics.h"
#include "tokenizer/tokenizer.h"

namespace brix::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// Parses an engine's GET /v1/models answer: base models (no parent) and LoRA adapters.
std::optional<ServedModels> ParseModelList(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  const boost::json::value* data = doc.as_object().if_contains("data");
  if (data == nullptr || !data->is_array()) return std::nullopt;
  ServedModels served;
  for (const boost::json::value& card : data->as_array()) {
    if (!card.is_object()) continue;
    const boost::json::value* id = card.as_object().if_contains("id");
    if (id == nullptr || !id->is_string() || id->as_string().empty()) continue;
    const boost::json::value* parent = card.as_object().if_contains("parent");
    std::string name(id->as_string());
    served.cards.emplace_back(name, boost::json::serialize(card));
    if (parent != nullptr && parent->is_string()) {
      served.adapters.push_back(std::move(name));
    } else {
      served.models.push_back(std::move(name));
    }
  }
  return served;
}

}  // namespace

struct Gateway::Impl {
  Impl(GatewayOptions options_in, metrics::Registry& registry_in,
       std::shared_ptr<const tokenizer::Tokenizer> tokenizer_in)
      : options(std::move(options_in)),
        registry(registry_in),
        tokenizer(std::move(tokenizer_in)),
        policies(tokenizer != nullptr) {}

  GatewayOptions options;
  metrics::Registry& registry;
  std::unique_ptr<GatewayMetrics> gateway_metrics;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;  // null: token-id policies refused
  PolicySet policies;
  router::Policy* default_policy = nullptr;
  std::shared_ptr<spdlog::logger> log = base::Logger("gateway");
  std::shared_ptr<spdlog::logger> access_log;  // null when off
  std::unique_ptr<discovery::Source> source;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot;
  std::mutex apply_mu;  // serialises ApplyTopology
  std::vector<metrics::CallbackRegistration> callbacks;
  int64_t started_unix = 0;

  // The scraper: its own thread and io_context; loops_ and scrape_client are used only there.
  asio::io_context scrape_io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> scrape_work;
  std::thread scrape_thread;
  std::unique_ptr<net::HttpClient> scrape_client;
  struct ScrapeLoop {
    std::shared_ptr<EndpointState> state;
    asio::cancellation_signal cancel;
  };
  std::unordered_map<EndpointState*, std::unique_ptr<ScrapeLoop>> loops;
  bool scrape_stopping = false;  // scrape thread only

  // Tenancy (all null for an open gateway).
  std::unique_ptr<TenantStore> tenant_store;
  std::atomic<std::shared_ptr<const TenantDirectory>> tenants;
  std::unique_ptr<QuotaBackend> quota;
  std::unique_ptr<FairShare> fair_share;  // null when off
  TrustedNetworks trusted;
  std::unique_ptr<net::Server> admin_server;
  uint16_t admin_port = 0;

  Result<void> SetUpTenancy() {
    const TenancyOptions& t = options.tenancy;
    if (t.db.empty()) {
      if (t.admin_enabled) {
        return InvalidArgument("the admin API manages tenants: it needs a tenants database");
      }
      return {};
    }
    Result<TrustedNetworks> trusted_networks = TrustedNetworks::Parse(t.trusted_callers);
    if (!trusted_networks) return trusted_networks.error();
    trusted = std::move(*trusted_networks);
    if (t.quota_timeout <= std::chrono::milliseconds(0) ||
        t.reload_interval <= std::chrono::milliseconds(0)) {
      return InvalidArgument("quota_timeout and reload_interval must be positive");
    }
    if (t.admin_enabled && t.admin_token.size() < 16) {
      return InvalidArgument("the admin API needs an admin token of at least 16 characters");
    }
    Result<std::unique_ptr<TenantStore>> store = TenantStore::Open(t.db);
    if (!store) return store.error();
    tenant_store = std::move(*store);
    tenant_store->Changed();  // the baseline for the watch
    Result<std::shared_ptr<const TenantDirectory>> dir = tenant_store->Load();
    if (!dir) return dir.error();
    tenants.store(std::move(*dir));
    if (t.quota_backend == "local") {
      quota = MakeLocalQuotaBackend();
    } else if (t.quota_backend.starts_with("redis://")) {
      Result<std::unique_ptr<QuotaBackend>> redis =
          MakeRedisQuotaBackend({.url = t.quota_backend,
                                 .timeout = t.quota_timeout,
                                 .lease = options.request_timeout + std::chrono::minutes(1)});
      if (!redis) return redis.error();
      quota = std::move(*redis);
    } else {
      return InvalidArgument(fmt::format(
          "quota backend \"{}\": must be \"local\" or redis://HOST:PORT", t.quota_backend));
    }
    return {};
  }

  // Re-reads the tenants after a write here or, seen through Changed(), another gateway's.
  void ReloadTenants() {
    Result<std::shared_ptr<const TenantDirectory>> dir = tenant_store->Load();
    if (!dir) {
      log->error("tenants: reload failed, keeping the last good set: {}", dir.error().message);
      return;
    }
    tenants.store(std::move(*dir));
  }

  awaitable<void> WatchTenants() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!scrape_stopping) {
      timer.expires_after(options.tenancy.reload_interval);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || scrape_stopping) co_return;
      if (tenant_store->Changed()) ReloadTenants();
    }
  }
  asio::cancellation_signal tenants_cancel;

  // Declared before the proxy so that it is destroyed after it: the proxy's per-worker clients
  // hold sockets of the server's io_contexts.
  std::unique_ptr<net::Server> server;
  std::unique_ptr<Proxy> proxy;
  bool started = false;
  bool stopped = false;

  // ---- topology ----

  void ApplyTopology(std::shared_ptr<const discovery::Topology> topology) {
    std::lock_guard lock(apply_mu);
    std::shared_ptr<const Snapshot> previous = snapshot.load();
    std::vector<std::string> warnings;
    std::shared_ptr<const Snapshot> next =
        BuildSnapshot(topology, previous.get(), options, policies, default_policy, &warnings);
    for (const std::string& w : warnings) log->warn("{}", w);
    snapshot.store(next);
    log->info("topology generation {}: {} endpoints, {} configured models", topology->generation,
              topology->endpoints.size(), topology->models.size());
    asio::post(scrape_io, [this, next] { SyncLoops(*next); });
  }

  // ---- scraping (scrape thread) ----

  void SyncLoops(const Snapshot& snap) {
    if (scrape_stopping) return;
    for (const auto& state : snap.endpoints) {
      if (loops.contains(state.get())) continue;
      auto loop = std::make_unique<ScrapeLoop>();
      loop->state = state;
      ScrapeLoop* raw = loop.get();
      loops.emplace(state.get(), std::move(loop));
      EndpointState* key = state.get();
      asio::co_spawn(
          scrape_io, ScrapeEndpoint(state),
          asio::bind_cancellation_slot(raw->cancel.slot(), [this, key](std::exception_ptr e) {
            if (e) {
              try {
                std::rethrow_exception(e);
              } catch (const boost::system::system_error& se) {
                if (se.code() != asio::error::operation_aborted) {
                  log->error("scrape loop: {}", se.what());
                }
              } catch (const std::exception& ex) {
                log->error("scrape loop: {}", ex.what());
              }
            }
            loops.erase(key);
          }));
    }
    for (auto& [key, loop] : loops) {
      if (key->removed.load()) loop->cancel.emit(asio::cancellation_type::terminal);
    }
  }

  void StopLoops() {
    scrape_stopping = true;
    for (auto& [key, loop] : loops) loop->cancel.emit(asio::cancellation_type::terminal);
    tenants_cancel.emit(asio::cancellation_type::terminal);
    scrape_work.reset();
  }

  awaitable<void> ScrapeEndpoint(std::shared_ptr<EndpointState> state) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.9, 1.1);
    Clock::time_point models_at{};
    bool first = true;
    while (!state->removed.load()) {
      const Clock::time_point now = Clock::now();
      if (state->health.ejected()) {
        if (state->health.ProbeDue(now)) {
          bool ok = co_await Probe(state);
          state->health.RecordProbe(ok, Clock::now());
          if (ok) log->info("endpoint {} back in rotation (probe ok)", state->spec.name);
        }
      } else {
        co_await ScrapeMetrics(state);
      }
      const bool learn = state->learn_models.load() &&
                         (first || now - models_at >= options.models_refresh_interval);
      if (learn && !state->health.ejected()) {
        models_at = now;
        co_await RefreshModels(state);
      }
      if (first) {
        first = false;
        state->first_pass_done.store(true);
      }
      auto wait =
          std::chrono::duration_cast<Clock::duration>(options.scrape_interval * jitter(rng));
      timer.expires_after(wait);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  awaitable<Result<net::Response>> Get(std::shared_ptr<EndpointState> state, std::string path) {
    net::Request request(http::verb::get, path, 11);
    net::HostPort upstream = state->host_port;
    const Clock::time_point deadline = Clock::now() + options.scrape_timeout;
    Result<net::Response> response = co_await scrape_client->Send(upstream, request, deadline);
    co_return response;
  }

  awaitable<void> ScrapeMetrics(std::shared_ptr<EndpointState> state) {
    std::string path = "/metrics";
    Result<net::Response> response = co_await Get(state, path);
    const Clock::time_point now = Clock::now();
    if (!response) {
      // Unreachable or silent past the deadline: both count towards ejection (a hung engine
      // still completes TCP handshakes from its listen backlog).
      const Errc code = response.error().code;
      const bool counts = code == Errc::kUnavailable || code == Errc::kDeadlineExceeded;
      gateway_metrics
          ->Scrapes(state->spec.name, code == Errc::kUnavailable        ? "unreachable"
                                      : code == Errc::kDeadlineExceeded ? "timeout"
                                                                        : "error")
          .Inc();
      if (counts) {
        NoteFailure(*state, now, "metrics scrape: " + response.error().message,
                    HealthTracker::Source::kScrape);
      }
      co_return;
    }
    state->health.RecordSuccess(now, HealthTracker::Source::kScrape);
    if (response->result_int() != 200) {
      gateway_metrics->Scrapes(state->spec.name, "error").Inc();
      co_return;
    }
    Result<metrics::ParsedPage> page = metrics::ParseText(response->body());
    if (!page) {
      gateway_metrics->Scrapes(state->spec.name, "error").Inc();
      co_return;
    }
    auto scraped = std::make_shared<ScrapedMetrics>();
    scraped->metrics = router::EngineMetricsFromPage(*page);
    scraped->at = now;
    state->scraped.store(std::move(scraped));
    gateway_metrics->Scrapes(state->spec.name, "ok").Inc();
  }

  awaitable<void> RefreshModels(std::shared_ptr<EndpointState> state) {
    std::string path = "/v1/models";
    Result<net::Response> response = co_await Get(state, path);
    if (!response || response->result_int() != 200) co_return;
    std::optional<ServedModels> served = ParseModelList(response->body());
    if (!served) {
      log->warn("endpoint {}: GET /v1/models did not answer a model list", state->spec.name);
      co_return;
    }
    // A reload may have declared the models while this call was out.
    if (!state->learn_models.load()) co_return;
    state->served.store(std::make_shared<const ServedModels>(std::move(*served)));
  }

  awaitable<bool> Probe(std::shared_ptr<EndpointState> state) {
    std::string path = "/health";
    Result<net::Response> response = co_await Get(state, path);
    const bool ok = response && response->result_int() == 200;
    co_return ok;
  }

  void NoteFailure(EndpointState& state, Clock::time_point now, std::string_view why,
                   HealthTracker::Source source = HealthTracker::Source::kRequest) {
    if (state.health.RecordFailure(now, source)) {
      gateway_metrics->Ejections(state.spec.name).Inc();
      log->warn(
          "endpoint {} ejected for {} ms after {} failures in a row (last: {})", state.spec.name,
          std::chrono::duration_cast<std::chrono::milliseconds>(state.health.ejected_until() - now)
              .count(),
          options.ejection.consecutive_failures, why);
    }
  }

  // ---- gauges read at scrape time ----

  Result<void> RegisterCallbacks() {
    auto per_endpoint = [this](std::string name, std::string help, auto value) -> Result<void> {
      auto reg = registry.AddCallbackGauge({std::move(name), std::move(help), {"endpoint"}},
                                           [this, value](metrics::SampleSink& sink) {
                                             std::shared_ptr<const Snapshot> snap = snapshot.load();
                                             if (!snap) return;
                                             const Clock::time_point now = Clock::now();
                                             for (const auto& state : snap->endpoints) {
                                               std::optional<double> v = value(*state, now);
                                               if (v)
                                                 sink.Add({std::string_view(state->spec.name)}, *v);
                                             }
                                           });
      if (!reg) return reg.error();
      callbacks.push_back(std::move(*reg));
      return {};
    };
    using V = std::optional<double>;
    auto metric = [](const EndpointState& s, std::optional<double> router::EngineMetrics::*field) {
      std::shared_ptr<const ScrapedMetrics> scraped = s.scraped.load();
      return scraped ? scraped->metrics.*field : std::nullopt;
    };
    Result<void> results[] = {
        per_endpoint("brix_gateway_in_flight_requests",
                     "Requests this gateway sent to the endpoint that have not finished.",
                     [](const EndpointState& s, Clock::time_point) -> V {
                       return static_cast<double>(s.in_flight.load());
                     }),
        per_endpoint("brix_gateway_endpoint_healthy",
                     "1 when the endpoint is in rotation, 0 while ejected.",
                     [](const EndpointState& s, Clock::time_point) -> V {
                       return s.health.ejected() ? 0.0 : 1.0;
                     }),
        per_endpoint("brix_gateway_engine_metrics_age_seconds",
                     "Seconds since the endpoint's /metrics was last scraped successfully.",
                     [](const EndpointState& s, Clock::time_point now) -> V {
                       std::shared_ptr<const ScrapedMetrics> scraped = s.scraped.load();
                       if (!scraped) return std::nullopt;
                       return std::chrono::duration<double>(now - scraped->at).count();
                     }),
        per_endpoint("brix_gateway_engine_running_requests",
                     "Running requests the engine reported at the last scrape.",
                     [metric](const EndpointState& s, Clock::time_point) -> V {
                       return metric(s, &router::EngineMetrics::running);
                     }),
        per_endpoint("brix_gateway_engine_waiting_requests",
                     "Waiting requests the engine reported at the last scrape.",
                     [metric](const EndpointState& s, Clock::time_point) -> V {
                       return metric(s, &router::EngineMetrics::waiting);
                     }),
        per_endpoint("brix_gateway_engine_kv_cache_usage",
                     "KV cache usage (0..1) the engine reported at the last scrape.",
                     [metric](const EndpointState& s, Clock::time_point) -> V {
                       return metric(s, &router::EngineMetrics::kv_cache_usage);
                     }),
    };
    for (Result<void>& r : results) {
      if (!r) return r.error();
    }
    auto generation = registry.AddCallbackGauge(
        {"brix_gateway_topology_generation",
         "Generation of the topology in use (increases with every reload).",
         {}},
        metrics::SingleValue([this] {
          std::shared_ptr<const Snapshot> snap = snapshot.load();
          return snap ? static_cast<double>(snap->topology->generation) : 0.0;
        }));
    if (!generation) return generation.error();
    callbacks.push_back(std::move(*generation));
    auto waiting = registry.AddCallbackGauge(
        {"brix_gateway_fair_share_waiting",
         "Requests waiting at the gateway for a fair-share slot (0 when admission is off).",
         {}},
        metrics::SingleValue(
            [this] { return fair_share ? static_cast<double>(fair_share->waiting()) : 0.0; }));
    if (!waiting) return waiting.error();
    callbacks.push_back(std::move(*waiting));
    return {};
  }

  // ---- HTTP surface ----

  net::Handler Build() {
    net::Router router;
    auto proxy_route = [this](RouteKind kind) {
      return [this, kind](net::Request req, net::ResponseWriter w) -> awaitable<void> {
        return proxy->Handle(std::move(req), std::move(w), kind);
      };
    };
    router.Add(http::verb::post, "/v1/chat/completions", proxy_route(RouteKind::kChat));
    router.Add(http::verb::post, "/v1/completions", proxy_route(RouteKind::kCompletion));
    router.Add(http::verb::post, "/v1/embeddings", proxy_route(RouteKind::kEmbedding));
    router.Add(http::verb::get, "/v1/models",
               [this](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response response = ModelList();
                 co_await w.Send(std::move(response));
               });
    router.Add(http::verb::get, "/health",
               [](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response response{http::status::ok, 11};
                 co_await w.Send(std::move(response));
               });
    router.Add(http::verb::get, "/ready",
               [this](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response response = Ready();
                 co_await w.Send(std::move(response));
               });
    router.Add(http::verb::get, "/metrics",
               [this](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response response{http::status::ok, 11};
                 response.set(http::field::content_type, metrics::kContentType);
                 response.body() = metrics::RenderText(registry);
                 co_await w.Send(std::move(response));
               });
    return router.Build();
  }

  // The union of the model cards the endpoints serve, deduplicated by id; declared models
  // without a card get a minimal one.
  net::Response ModelList() const {
    std::shared_ptr<const Snapshot> snap = snapshot.load();
    std::string body = R"({"object":"list","data":[)";
    std::unordered_map<std::string, bool> seen;
    bool first = true;
    auto add = [&](const std::string& id, std::string_view card) {
      if (!seen.emplace(id, true).second) return;
      if (!first) body += ',';
      first = false;
      body += card;
    };
    if (snap) {
      for (const auto& state : snap->endpoints) {
        std::shared_ptr<const ServedModels> served = state->served.load();
        if (!served) continue;
        if (!served->cards.empty()) {
          for (const auto& [id, card] : served->cards) add(id, card);
          continue;
        }
        for (const std::string& model : served->models) {
          boost::json::object card{
              {"id", model},        {"object", "model"}, {"created", started_unix},
              {"owned_by", "brix"}, {"root", model},     {"parent", nullptr}};
          add(model, boost::json::serialize(card));
        }
      }
    }
    body += "]}";
    net::Response response{http::status::ok, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(body);
    return response;
  }

  // Ready when some endpoint is in rotation and serves at least one known model.
  net::Response Ready() const {
    std::shared_ptr<const Snapshot> snap = snapshot.load();
    size_t ready = 0;
    size_t total = snap ? snap->endpoints.size() : 0;
    if (snap) {
      for (const auto& state : snap->endpoints) {
        std::shared_ptr<const ServedModels> served = state->served.load();
        if (!state->health.ejected() && served &&
            (!served->models.empty() || !served->adapters.empty())) {
          ++ready;
        }
      }
    }
    const bool ok = ready > 0;
    net::Response response{ok ? http::status::ok : http::status::service_unavailable, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = fmt::format(R"({{"ready":{},"endpoints":{},"endpoints_ready":{}}})",
                                  ok ? "true" : "false", total, ready);
    return response;
  }

  // Waits (bounded) until every endpoint has had its first scrape and models refresh, so that
  // the first requests after Start() find the models.
  void WaitFirstPass() {
    const Clock::time_point until =
        Clock::now() + options.scrape_timeout + std::chrono::milliseconds(500);
    while (Clock::now() < until) {
      std::shared_ptr<const Snapshot> snap = snapshot.load();
      bool all = true;
      for (const auto& state : snap->endpoints) all = all && state->first_pass_done.load();
      if (all) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
};

Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options,
                                                 metrics::Registry& registry,
                                                 std::unique_ptr<discovery::Source> source) {
  if (source == nullptr && options.endpoints_file.empty()) {
    return Error{Errc::kInvalidArgument, "no endpoints file given (--endpoints)"};
  }
  if (options.max_retries < 0 || options.max_retries > 10) {
    return Error{Errc::kInvalidArgument, "max_retries must be between 0 and 10"};
  }
  if (options.scrape_interval <= std::chrono::milliseconds(0) ||
      options.scrape_timeout <= std::chrono::milliseconds(0) ||
      options.request_timeout <= std::chrono::milliseconds(0)) {
    return Error{Errc::kInvalidArgument,
                 "scrape_interval, scrape_timeout and request_timeout must be positive"};
  }
  if (options.ejection.consecutive_failures < 1) {
    return Error{Errc::kInvalidArgument, "ejection.consecutive_failures must be at least 1"};
  }
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  if (!options.tokenizer_dir.empty()) {
    Result<std::shared_ptr<const tokenizer::Tokenizer>> loaded =
        tokenizer::Tokenizer::LoadDirectory(options.tokenizer_dir);
    if (!loaded) {
      return Error{
          loaded.error().code,
          fmt::format("tokenizer {}: {}", options.tokenizer_dir.string(), loaded.error().message)};
    }
    tokenizer = std::move(*loaded);
  }
  auto impl = std::make_unique<Impl>(std::move(options), registry, std::move(tokenizer));
  Impl& g = *impl;
  g.default_policy = g.policies.Find(g.options.default_routing_strategy);
  if (g.default_policy == nullptr) {
    return Error{Errc::kInvalidArgument, g.policies.WhyUnknown(g.options.default_routing_strategy)};
  }
  auto gm = GatewayMetrics::Create(registry);
  if (!gm) return gm.error();
  g.gateway_metrics = std::move(*gm);
  Result<void> callbacks = g.RegisterCallbacks();
  if (!callbacks) return callbacks.error();
  if (g.options.access_log != "off") {
    std::shared_ptr<spdlog::sinks::sink> sink;
    try {
      if (g.options.access_log == "-") {
        sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
      } else {
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(g.options.access_log);
      }
    } catch (const spdlog::spdlog_ex& e) {
      return Error{Errc::kInvalidArgument, fmt::format("access log: {}", e.what())};
    }
    g.access_log = std::make_shared<spdlog::logger>("access", sink);
    g.access_log->set_pattern("%v");
    g.access_log->flush_on(spdlog::level::info);
  }
  if (Result<void> tenancy = g.SetUpTenancy(); !tenancy) return tenancy.error();
  if (source != nullptr) {
    g.source = std::move(source);
  } else {
    auto file_source = discovery::MakeStaticFileSource(
        {.file = g.options.endpoints_file, .poll_interval = g.options.discovery_poll_interval});
    if (!file_source) return file_source.error();
    g.source = std::move(*file_source);
  }
  if (g.options.fair_share.max_in_flight_per_endpoint < 0) {
    return InvalidArgument("fair share: max in flight per endpoint must be >= 0");
  }
  if (g.options.fair_share.max_in_flight_per_endpoint > 0) {
    if (g.options.fair_share.queue_timeout <= std::chrono::milliseconds(0)) {
      return InvalidArgument("fair share: the queue timeout must be positive");
    }
    g.fair_share = std::make_unique<FairShare>(g.options.fair_share);
  }
  ProxyContext context{.options = &g.options,
                       .policies = &g.policies,
                       .default_policy = g.default_policy,
                       .tokenizer = g.tokenizer.get(),
                       .snapshot = &g.snapshot,
                       .metrics = g.gateway_metrics.get(),
                       .access_log = g.access_log,
                       .tenants = g.tenant_store ? &g.tenants : nullptr,
                       .quota = g.quota.get(),
                       .trusted = &g.trusted,
                       .quota_fail_open = g.options.tenancy.fail_open,
                       .fair_share = g.fair_share.get(),
                       .on_failure = [&g](EndpointState& state, std::string_view why) {
                         g.NoteFailure(state, Clock::now(), why);
                       }};
  g.proxy = std::make_unique<Proxy>(std::move(context));
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Stop(); }

uint16_t Gateway::admin_port() const { return impl_->admin_port; }

Result<uint16_t> Gateway::Start() {
  Impl& g = *impl_;
  BRIX_CHECK(!g.started) << "Gateway::Start called twice";
  g.started = true;
  g.started_unix = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  g.scrape_client = std::make_unique<net::HttpClient>(g.scrape_io.get_executor());
  g.scrape_work.emplace(g.scrape_io.get_executor());
  g.scrape_thread = std::thread([&g] { g.scrape_io.run(); });
  Result<void> watching =
      g.source->Start([&g](std::shared_ptr<const discovery::Topology> t) { g.ApplyTopology(t); });
  if (!watching) {
    Stop();
    return watching.error();
  }
  g.WaitFirstPass();
  if (g.tenant_store) {
    asio::co_spawn(g.scrape_io, g.WatchTenants(),
                   asio::bind_cancellation_slot(g.tenants_cancel.slot(), asio::detached));
  }
  if (g.options.tenancy.admin_enabled) {
    g.admin_server =
        std::make_unique<net::Server>(g.options.tenancy.admin_server,
                                      MakeAdminHandler({.store = g.tenant_store.get(),
                                                        .token = g.options.tenancy.admin_token,
                                                        .can_count_tokens = g.tokenizer != nullptr,
                                                        .on_change = [&g] { g.ReloadTenants(); }}));
    Result<uint16_t> admin = g.admin_server->Start();
    if (!admin) {
      Stop();
      return Error{admin.error().code, fmt::format("admin API: {}", admin.error().message)};
    }
    g.admin_port = *admin;
  }
  g.server = std::make_unique<net::Server>(g.options.server, g.Build());
  g.server->SetBeforeTeardown([&g] { g.proxy->CloseClients(); });
  Result<uint16_t> port = g.server->Start();
  if (!port) {
    Stop();
    return port.error();
  }
  return *port;
}

void Gateway::Stop() {
  Impl& g = *impl_;
  if (!g.started || g.stopped) return;
  g.stopped = true;
  if (g.server) g.server->Stop();
  if (g.admin_server) g.admin_server->Stop();
  g.source->Stop();
  asio::post(g.scrape_io, [&g] { g.StopLoops(); });
  if (g.scrape_thread.joinable()) g.scrape_thread.join();
  g.scrape_client.reset();
}

}  // namespace brix::gateway
