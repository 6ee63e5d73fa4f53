#include "net/server.h"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <latch>
#include <utility>

#include "base/check.h"
#include "net/http_status.h"
#include "net/internal/server_connection.h"
#include "net/internal/worker.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using internal::Worker;

// After a forced close, how long handlers get to notice their cancellation before the workers'
// io_contexts are stopped regardless.
constexpr auto kForceCloseGrace = std::chrono::seconds(2);

Result<void> ValidateConfig(const ServerConfig& config) {
  std::vector<std::string> problems;
  if (config.workers < 1 || config.workers > internal::ServerShared::kMaxWorkers) {
    problems.push_back(
        fmt::format("workers must be in [1, {}]", internal::ServerShared::kMaxWorkers));
  }
  if (config.max_header_bytes < 64) problems.push_back("max_header_bytes must be at least 64");
  if (config.max_connections < 1) problems.push_back("max_connections must be at least 1");
  const std::pair<const char*, std::chrono::milliseconds> timeouts[] = {
      {"header_timeout", config.header_timeout}, {"body_timeout", config.body_timeout},
      {"idle_timeout", config.idle_timeout},     {"send_timeout", config.send_timeout},
      {"linger_timeout", config.linger_timeout}, {"drain_timeout", config.drain_timeout},
  };
  for (const auto& [name, value] : timeouts) {
    if (value.count() <= 0) problems.push_back(fmt::format("{} must be positive", name));
  }
  if (problems.empty()) return {};
  return InvalidArgument(fmt::format("invalid server config: {}", fmt::join(problems, "; ")));
}

// Binds a socket without SO_REUSEPORT to `endpoint` and returns the port it got. SO_REUSEPORT
// lets any socket of the same user that also sets it share the port, so without this check a
// second server started on a busy port would silently split its traffic with the first.
Result<uint16_t> ProbePort(const tcp::endpoint& endpoint) {
  asio::io_context context;
  tcp::acceptor probe(context);
  error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (ec) return internal::SocketError("open socket for", endpoint, ec);
  probe.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return internal::SocketError("set SO_REUSEADDR on", endpoint, ec);
  probe.bind(endpoint, ec);
  if (ec) return internal::SocketError("bind", endpoint, ec);
  const uint16_t port = probe.local_endpoint(ec).port();
  if (ec) return internal::SocketError("get the port of", endpoint, ec);
  return port;
}

}  // namespace

ResponseWriter::ResponseWriter(ResponseWriter&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)) {}

ResponseWriter& ResponseWriter::operator=(ResponseWriter&& other) noexcept {
  connection_ = std::exchange(other.connection_, nullptr);
  return *this;
}

// These return the connection's coroutine without wrapping it in another one.
asio::awaitable<Result<void>> ResponseWriter::Send(Response response) {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->Send(std::move(response));
}

asio::awaitable<Result<void>> ResponseWriter::SendError(Error error) {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  const unsigned status = HttpStatusFor(error.code);
  Response response(static_cast<http::status>(status), 11);
  response.set(http::field::content_type, "application/json");
  response.body() = ErrorBody(status, error.message);
  return connection_->Send(std::move(response));
}

asio::awaitable<Result<void>> ResponseWriter::StartStream(ResponseHead head) {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->StartStream(std::move(head));
}

asio::awaitable<Result<void>> ResponseWriter::Write(std::string data) {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->Write(std::move(data));
}

asio::awaitable<Result<void>> ResponseWriter::Finish() {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->Finish();
}

bool ResponseWriter::client_gone() const {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->client_gone();
}

bool ResponseWriter::started() const {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->response_started();
}

const asio::ip::address& ResponseWriter::remote_address() const {
  BRIX_CHECK(connection_ != nullptr) << "use of a moved-from ResponseWriter";
  return connection_->remote_address();
}

Server::Server(ServerConfig config, Handler handler)
    : shared_(std::make_unique<internal::ServerShared>(std::move(config), std::move(handler))) {
  BRIX_CHECK(shared_->handler != nullptr) << "a server needs a handler";
}

Server::~Server() { Stop(); }

Result<uint16_t> Server::Start() {
  BRIX_CHECK(state_ == State::kNew) << "Server::Start() may be called once";
  const ServerConfig& config = shared_->config;
  if (auto valid = ValidateConfig(config); !valid) return valid.error();
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(config.address, ec);
  if (ec) {
    return InvalidArgument(fmt::format("server address '{}' is not an IP address", config.address));
  }
  tcp::endpoint endpoint(address, config.port);
  // Workers of one server share the port with SO_REUSEPORT; unless other processes may share it
  // too, the port must be free first.
  const bool reuse_port = config.workers > 1 || config.share_port;
  if (config.workers > 1 && !config.share_port) {
    auto port = ProbePort(endpoint);
    if (!port) return port.error();
    endpoint.port(*port);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < config.workers; ++i) {
    auto worker = std::make_unique<Worker>(*shared_, static_cast<size_t>(i));
    if (auto listening = worker->Listen(endpoint, reuse_port); !listening) {
      return listening.error();
    }
    endpoint.port(worker->port());  // the port 0 resolved to, for the other workers
    workers.push_back(std::move(worker));
  }
  workers_ = std::move(workers);
  port_ = endpoint.port();
  for (auto& worker : workers_) worker->Launch();
  state_ = State::kRunning;
  shared_->log->info("listening on {} with {} worker(s)", internal::EndpointString(endpoint),
                     config.workers);
  return port_;
}

void Server::BeginDrain() {
  if (state_ != State::kRunning) return;
  BRIX_CHECK(!OnWorkerThread()) << "BeginDrain() on a worker thread would wait for itself";
  state_ = State::kDraining;
  shared_->draining.store(true, std::memory_order_relaxed);
  RunOnWorkers([](Worker& worker) { worker.BeginDrain(); });
  shared_->log->info("draining: no longer accepting connections");
}

void Server::Stop() {
  if (state_ == State::kNew || state_ == State::kStopped) return;
  BRIX_CHECK(!OnWorkerThread()) << "Stop() on a worker thread would wait for itself";
  BeginDrain();
  if (!WaitForConnections(shared_->config.drain_timeout)) {
    shared_->log->info("drain timeout: force-closing {} connection(s)",
                       shared_->live_connections.load());
    RunOnWorkers([](Worker& worker) { worker.ForceClose(); });
    if (!WaitForConnections(kForceCloseGrace)) {
      shared_->log->warn("{} connection(s) ignored cancellation; stopping the workers",
                         shared_->live_connections.load());
      for (auto& worker : workers_) worker->StopNow();
    }
  }
  for (auto& worker : workers_) worker->ReleaseWork();
  for (auto& worker : workers_) worker->Join();
  if (before_teardown_) before_teardown_();
  workers_.clear();
  state_ = State::kStopped;
  shared_->log->info("stopped");
}

ServerStats Server::Stats() const {
  ServerStats stats;
  stats.open_connections = shared_->open_connections.load(std::memory_order_relaxed);
  for (size_t i = 0; i < shared_->counter_slots; ++i) {
    const internal::WorkerCounters& c = shared_->counters[i];
    stats.accepted_connections += c.accepted.load(std::memory_order_relaxed);
    stats.rejected_connections += c.rejected.load(std::memory_order_relaxed);
    stats.requests += c.requests.load(std::memory_order_relaxed);
    stats.responses_2xx += c.responses_by_class[2].load(std::memory_order_relaxed);
    stats.responses_3xx += c.responses_by_class[3].load(std::memory_order_relaxed);
    stats.responses_4xx += c.responses_by_class[4].load(std::memory_order_relaxed);
    stats.responses_5xx += c.responses_by_class[5].load(std::memory_order_relaxed);
  }
  return stats;
}

void Server::RunOnWorkers(const std::function<void(Worker&)>& fn) {
  std::latch done(static_cast<std::ptrdiff_t>(workers_.size()));
  for (auto& worker : workers_) {
    asio::post(worker->io_context(), [&fn, &done, w = worker.get()] {
      fn(*w);
      done.count_down();
    });
  }
  done.wait();
}

bool Server::WaitForConnections(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mu);
  return shared_->drained.wait_for(lock, timeout, [&] {
    return shared_->live_connections.load(std::memory_order_acquire) == 0;
  });
}

bool Server::OnWorkerThread() const {
  const auto self = std::this_thread::get_id();
  for (const auto& worker : workers_) {
    if (worker->thread_id() == self) return true;
  }
  return false;
}

}  // namespace brix::net
