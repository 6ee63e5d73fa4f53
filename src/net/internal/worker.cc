#include "net/internal/worker.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

#include "base/check.h"
#include "base/logging.h"

namespace brix::net::internal {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// How long accepting pauses when the process or system is out of descriptors or memory; an
// immediate retry would spin.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

bool IsResourceExhaustion(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
}

}  // namespace

std::string EndpointString(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), endpoint.port())
                         : fmt::format("{}:{}", address.to_string(), endpoint.port());
}

Error SocketError(std::string_view operation, const tcp::endpoint& endpoint, const error_code& ec) {
  std::string message = fmt::format("{} {}: {}", operation, EndpointString(endpoint), ec.message());
  if (ec == asio::error::address_in_use) return Unavailable(std::move(message));
  if (ec == asio::error::access_denied || ec == asio::error::no_permission) {
    return PermissionDenied(std::move(message));
  }
  if (ec == boost::system::errc::address_not_available ||
      ec == asio::error::address_family_not_supported) {
    return InvalidArgument(std::move(message));
  }
  return Unavailable(std::move(message));
}

ServerShared::ServerShared(ServerConfig c, Handler h)
    : config(std::move(c)),
      handler(std::move(h)),
      log(base::Logger("net")),
      counter_slots(static_cast<size_t>(std::clamp(config.workers, 1, kMaxWorkers))),
      counters(new WorkerCounters[counter_slots]) {}

void ServerShared::ConnectionGone(bool admitted) {
  if (admitted) open_connections.fetch_sub(1, std::memory_order_relaxed);
  if (live_connections.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard lock(mu);
    drained.notify_all();
  }
}

void WorkerCounters::CountResponse(unsigned status) {
  const unsigned index = status / 100;
  if (index < responses_by_class.size()) Increment(responses_by_class[index]);
}

Worker::Worker(ServerShared& shared, size_t index)
    : shared_(shared), index_(index), counters_(shared.counters[index]) {}

Worker::~Worker() { BRIX_CHECK(!thread_.joinable()) << "a worker is destroyed while running"; }

Result<void> Worker::Listen(const tcp::endpoint& endpoint, bool reuse_port) {
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return SocketError("open socket for", endpoint, ec);
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return SocketError("set SO_REUSEADDR on", endpoint, ec);
  if (reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return SocketError("set SO_REUSEPORT on", endpoint,
                         error_code(errno, boost::system::system_category()));
    }
  }
  acceptor_.bind(endpoint, ec);
  if (ec) return SocketError("bind", endpoint, ec);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return SocketError("listen on", endpoint, ec);
  return {};
}

uint16_t Worker::port() const {
  error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Worker::Launch() {
  work_.emplace(io_context_.get_executor());
  asio::co_spawn(io_context_, AcceptLoop(), [log = shared_.log](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log->error("accept loop failed: {}", ex.what());
    } catch (...) {
      log->error("accept loop failed with a non-standard exception");
    }
  });
  thread_ = std::thread([this] { RunThread(); });
}

void Worker::RunThread() {
  while (true) {
    try {
      io_context_.run();
      return;
    } catch (const std::exception& e) {
      // Everything we post catches its own exceptions; this is a last resort that keeps the
      // worker's other connections alive.
      shared_.log->error("worker {}: unexpected exception: {}", index_, e.what());
    } catch (...) {
      shared_.log->error("worker {}: unexpected non-standard exception", index_);
    }
  }
}

asio::awaitable<void> Worker::AcceptLoop() {
  while (true) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!ec) {
      Admit(std::move(socket));
      continue;
    }
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (IsResourceExhaustion(ec)) {
      shared_.log->warn("worker {}: accept failed: {}; pausing accepts for {} ms", index_,
                        ec.message(), kAcceptBackoff.count());
      accept_backoff_.expires_after(kAcceptBackoff);
      co_await accept_backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    // Other errors (e.g. a client that reset before accept) concern that connection only.
  }
}

void Worker::Admit(tcp::socket socket) {
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  // Non-blocking so that responses are first written synchronously (see WriteAll); Asio's
  // asynchronous operations are unaffected.
  socket.non_blocking(true, ignored);
  const bool admitted = shared_.open_connections.fetch_add(1, std::memory_order_relaxed) <
                        shared_.config.max_connections;
  if (!admitted) shared_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  WorkerCounters::Increment(admitted ? counters_.accepted : counters_.rejected);
  shared_.live_connections.fetch_add(1, std::memory_order_relaxed);

  auto connection = std::make_shared<ServerConnection>(*this, std::move(socket), admitted);
  connections_.push_back(*connection);
  // The completion handler owns the connection until Run() has finished.
  asio::co_spawn(
      io_context_, connection->Run(),
      asio::bind_cancellation_slot(
          connection->handler_slot(), [connection, log = shared_.log](const std::exception_ptr& e) {
            if (!e) return;
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              log->error("connection failed: {}", ex.what());
            } catch (...) {
              log->error("connection failed with a non-standard exception");
            }
          }));
}

void Worker::BeginDrain() {
  error_code ignored;
  acceptor_.close(ignored);
  accept_backoff_.cancel();
  for (ServerConnection& connection : connections_) connection.OnDrain();
}

void Worker::ForceClose() {
  for (ServerConnection& connection : connections_) connection.ForceClose();
}

void Worker::ReleaseWork() { work_.reset(); }

void Worker::StopNow() { io_context_.stop(); }

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace brix::net::internal
