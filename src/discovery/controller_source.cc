// The controller backend: a thread with its own io_context long polls GET /v1/topology.
#include <fmt/format.h>
#include <spdlog/logger.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "base/logging.h"
#include "discovery/discovery.h"
#include "net/client.h"

namespace brix::discovery {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using std::chrono::milliseconds;

Error Bad(std::string_view why) {
  return InvalidArgument(fmt::format("controller topology: {}", why));
}

class ControllerSource : public Source {
 public:
  explicit ControllerSource(ControllerSourceOptions options)
      : options_(std::move(options)), client_(io_.get_executor()) {}
  ~ControllerSource() override { Stop(); }

  Result<void> Start(Callback on_change) override {
    std::lock_guard lock(mu_);
    if (started_ || stopped_) return Error{Errc::kFailedPrecondition, "source already started"};
    started_ = true;
    // The first topology, synchronously: a gateway pointed at nothing fails to start.
    auto first = asio::co_spawn(io_, Fetch(0, "", milliseconds(0)), asio::use_future);
    io_.run();
    io_.restart();
    Result<WatchedTopology> got = first.get();
    if (!got) return got.error();
    on_change_ = std::move(on_change);
    Deliver(std::move(*got));
    asio::co_spawn(io_, Watch(),
                   asio::bind_cancellation_slot(cancel_.slot(), [](std::exception_ptr) {}));
    thread_ = std::thread([this] { io_.run(); });
    return {};
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    stopping_ = true;
    asio::post(io_, [this] { cancel_.emit(asio::cancellation_type::terminal); });
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::awaitable<Result<WatchedTopology>> Fetch(uint64_t after, std::string epoch,
                                                 milliseconds wait) {
    const std::string target =
        fmt::format("/v1/topology?after={}&epoch={}&timeoutMs={}", after, epoch, wait.count());
    net::Request request{http::verb::get, target, 11};
    request.set(http::field::host, fmt::format("{}:{}", options_.host, options_.port));
    request.set(http::field::authorization, "Bearer " + options_.token);
    const auto deadline = std::chrono::steady_clock::now() + wait + std::chrono::seconds(5);
    net::HostPort upstream(options_.host, options_.port);
    Result<net::Response> response =
        co_await client_.Send(std::move(upstream), std::move(request), deadline);
    if (!response) {
      co_return Error{response.error().code, fmt::format("controller at {}:{}: {}", options_.host,
                                                         options_.port, response.error().message)};
    }
    if (response->result_int() == 401) {
      co_return Error{
          Errc::kUnauthenticated,
          fmt::format("controller at {}:{}: the token was refused", options_.host, options_.port)};
    }
    if (response->result_int() != 200) {
      co_return Error{Errc::kUnavailable,
                      fmt::format("controller at {}:{}: /v1/topology answered {}", options_.host,
                                  options_.port, response->result_int())};
    }
    co_return ParseTopologyJson(response->body());
  }

  asio::awaitable<void> Watch() {
    asio::steady_timer timer(io_);
    milliseconds backoff(100);
    while (!stopping_) {
      Result<WatchedTopology> got = co_await Fetch(generation_, epoch_, options_.poll_timeout);
      if (stopping_) break;
      if (got) {
        backoff = milliseconds(100);
        if (got->epoch != epoch_ || got->generation != generation_) Deliver(std::move(*got));
        continue;
      }
      log_->warn("{}; keeping the last topology, retrying in {} ms", got.error().message,
                 backoff.count());
      timer.expires_after(backoff);
      co_await timer.async_wait(asio::use_awaitable);
      backoff = std::min(backoff * 2, milliseconds(2000));
    }
  }

  void Deliver(WatchedTopology got) {
    generation_ = got.generation;
    epoch_ = got.epoch;
    auto t = std::make_shared<Topology>(std::move(got.topology));
    if (last_ && last_->models == t->models && last_->endpoints == t->endpoints) return;
    t->generation = ++delivered_;
    last_ = t;
    on_change_(std::move(t));
  }

  ControllerSourceOptions options_;
  std::shared_ptr<spdlog::logger> log_ = base::Logger("discovery");
  asio::io_context io_;
  net::HttpClient client_;
  asio::cancellation_signal cancel_;
  std::thread thread_;
  std::mutex mu_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  // The source's thread only (and Start before it exists).
  Callback on_change_;
  uint64_t generation_ = 0;
  std::string epoch_;
  uint64_t delivered_ = 0;
  std::shared_ptr<const Topology> last_;
};

}  // namespace

Result<WatchedTopology> ParseTopologyJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Bad("not a JSON object");
  const json::object& o = v.as_object();
  WatchedTopology out;
  const json::value* gen = o.if_contains("generation");
  const json::value* epoch = o.if_contains("epoch");
  const json::value* models = o.if_contains("models");
  const json::value* endpoints = o.if_contains("endpoints");
  if (gen == nullptr || !(gen->is_uint64() || (gen->is_int64() && gen->as_int64() >= 0))) {
    return Bad("generation: must be a non-negative integer");
  }
  out.generation = gen->is_uint64() ? gen->as_uint64() : static_cast<uint64_t>(gen->as_int64());
  if (epoch == nullptr || !epoch->is_string()) return Bad("epoch: must be a string");
  out.epoch = std::string(epoch->as_string());
  if (models == nullptr || !models->is_array()) return Bad("models: must be a list");
  if (endpoints == nullptr || !endpoints->is_array()) return Bad("endpoints: must be a list");
  for (size_t i = 0; i < models->as_array().size(); ++i) {
    const json::value& m = models->as_array()[i];
    const json::value* name = m.is_object() ? m.as_object().if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string() || name->as_string().empty()) {
      return Bad(fmt::format("models[{}].name: must be a non-empty string", i));
    }
    ModelSpec spec;
    spec.name = std::string(name->as_string());
    if (const json::value* rs = m.as_object().if_contains("routingStrategy")) {
      if (!rs->is_string()) return Bad(fmt::format("models[{}].routingStrategy: not a string", i));
      spec.routing_strategy = std::string(rs->as_string());
    }
    out.topology.models.push_back(std::move(spec));
  }
  for (size_t i = 0; i < endpoints->as_array().size(); ++i) {
    const json::value& e = endpoints->as_array()[i];
    if (!e.is_object()) return Bad(fmt::format("endpoints[{}]: must be an object", i));
    const json::object& eo = e.as_object();
    Endpoint ep;
    const json::value* name = eo.if_contains("name");
    const json::value* host = eo.if_contains("host");
    const json::value* port = eo.if_contains("port");
    if (name == nullptr || !name->is_string() || name->as_string().empty()) {
      return Bad(fmt::format("endpoints[{}].name: must be a non-empty string", i));
    }
    if (host == nullptr || !host->is_string() || host->as_string().empty()) {
      return Bad(fmt::format("endpoints[{}].host: must be a non-empty string", i));
    }
    const int64_t p = port == nullptr     ? 0
                      : port->is_int64()  ? port->as_int64()
                      : port->is_uint64() ? static_cast<int64_t>(port->as_uint64() & 0xffff'ffff)
                                          : 0;
    if (p < 1 || p > 65535) return Bad(fmt::format("endpoints[{}].port: must be 1 to 65535", i));
    ep.name = std::string(name->as_string());
    ep.host = std::string(host->as_string());
    ep.port = static_cast<uint16_t>(p);
    if (const json::value* served = eo.if_contains("models")) {
      if (!served->is_array()) return Bad(fmt::format("endpoints[{}].models: must be a list", i));
      for (const json::value& m : served->as_array()) {
        if (!m.is_string()) return Bad(fmt::format("endpoints[{}].models: strings only", i));
        ep.models.emplace_back(m.as_string());
      }
    }
    out.topology.endpoints.push_back(std::move(ep));
  }
  return out;
}

Result<std::unique_ptr<Source>> MakeControllerSource(ControllerSourceOptions options) {
  if (options.port == 0) return InvalidArgument("controller source: no port");
  if (options.token.empty()) return InvalidArgument("controller source: no token");
  if (options.poll_timeout < std::chrono::seconds(1) ||
      options.poll_timeout > std::chrono::seconds(60)) {
    return InvalidArgument("controller source: poll_timeout must be 1s to 60s");
  }
  return std::unique_ptr<Source>(new ControllerSource(std::move(options)));
}

}  // namespace brix::discovery
