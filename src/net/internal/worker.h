// Worker: one server thread with its own io_context and SO_REUSEPORT acceptor, and the
// connections it accepted. ServerShared: what the Server and all its workers share.
//
// The Server owns its Workers. A Worker's connections and accept loop run on its thread only;
// Listen() and Launch() run on the controlling thread before that thread exists, Join() after
// the io_context was told to finish; everything else is posted to the worker's io_context.
#pragma once

#include <spdlog/logger.h>

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/error.h"
#include "net/internal/server_connection.h"
#include "net/server.h"

namespace brix::net::internal {

// "127.0.0.1:80", "[::1]:80".
std::string EndpointString(const boost::asio::ip::tcp::endpoint& endpoint);

// A failed socket operation as an Error: address in use -> Unavailable, a privileged port ->
// PermissionDenied, an address this host does not have -> InvalidArgument.
Error SocketError(std::string_view operation, const boost::asio::ip::tcp::endpoint& endpoint,
                  const boost::system::error_code& ec);

// Per-worker counters, written only by the worker's thread (plain load + store, no locked
// read-modify-write) and read by Server::Stats() from any thread. Padded to a cache line so that
// workers do not share one.
struct alignas(64) WorkerCounters {
  static void Increment(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Counts a final response by status class.
  void CountResponse(unsigned status);

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, 6> responses_by_class{};  // index: status / 100
};

struct ServerShared {
  static constexpr int kMaxWorkers = 1024;

  ServerShared(ServerConfig c, Handler h);

  // Called by every ServerConnection's destructor; wakes Stop() when the last one goes.
  void ConnectionGone(bool admitted);

  const ServerConfig config;
  const Handler handler;
  const std::shared_ptr<spdlog::logger> log;

  std::atomic<uint64_t> open_connections{0};  // admitted and alive; checked against the limit
  std::atomic<uint64_t> live_connections{0};  // all ServerConnections, including 503 rejects
  std::atomic<bool> draining{false};

  std::mutex mu;  // pairs with `drained` for Stop()'s wait; guards nothing else
  std::condition_variable drained;

  // One slot per worker, allocated once so that Stats() can read them while workers come and go.
  const size_t counter_slots;
  const std::unique_ptr<WorkerCounters[]> counters;
};

class Worker {
 public:
  Worker(ServerShared& shared, size_t index);
  ~Worker();

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens, binds and listens. `reuse_port` sets SO_REUSEPORT so that the other workers can bind
  // the same endpoint.
  Result<void> Listen(const boost::asio::ip::tcp::endpoint& endpoint, bool reuse_port);
  // The port this worker's acceptor is bound to.
  uint16_t port() const;

  // Starts the accept loop and the worker thread.
  void Launch();

  // On the worker thread: stop accepting and close idle connections.
  void BeginDrain();
  // On the worker thread: abort every connection (and cancel running handlers).
  void ForceClose();

  // Lets the io_context return once its work is done; from the controlling thread.
  void ReleaseWork();
  // Makes the io_context return now, abandoning what is still running; from the controlling
  // thread, only when connections refuse to finish.
  void StopNow();
  void Join();

  boost::asio::io_context& io_context() { return io_context_; }
  std::thread::id thread_id() const { return thread_.get_id(); }
  ServerShared& shared() { return shared_; }
  WorkerCounters& counters() { return counters_; }

 private:
  using ConnectionList =
      boost::intrusive::list<ServerConnection, boost::intrusive::constant_time_size<false>>;

  boost::asio::awaitable<void> AcceptLoop();
  void Admit(boost::asio::ip::tcp::socket socket);
  void RunThread();

  ServerShared& shared_;
  const size_t index_;
  WorkerCounters& counters_;
  // Declared before io_context_ so that connections destroyed while the io_context shuts down
  // can still unlink themselves.
  ConnectionList connections_;
  boost::asio::io_context io_context_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_context_};
  boost::asio::steady_timer accept_backoff_{io_context_};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
};

}  // namespace brix::net::internal
