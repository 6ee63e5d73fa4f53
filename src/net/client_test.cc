#include "net/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/internal/test_helpers.h"
#include "net/server.h"
#include "net/sse.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::kHangGuard;
using testing::RunOn;
using testing::TestEvent;

HttpClient::Deadline Later() { return std::chrono::steady_clock::now() + kHangGuard; }

Request Get(std::string target) { return Request(http::verb::get, target, 11); }

// Server side of the client tests: a few fixed behaviours by path, and events to steer them.
class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config;
    config.drain_timeout = kHangGuard;
    server_ = std::make_unique<Server>(
        config, [this](Request request, ResponseWriter writer) -> asio::awaitable<void> {
          co_await Handle(std::move(request), std::move(writer));
        });
    auto port = server_->Start();
    ASSERT_TRUE(port.has_value());
    upstream_ = HostPort{"127.0.0.1", *port};
  }

  asio::awaitable<void> Handle(Request request, ResponseWriter writer) {
    const std::string target(request.target());
    if (target == "/sse") {
      ResponseHead head;
      head.result(http::status::ok);
      head.set(http::field::content_type, "text/event-stream");
      if (!co_await writer.StartStream(std::move(head))) co_return;
      for (int i = 0; i < 3; ++i) {
        if (!co_await writer.Write(FormatSseEvent("chunk " + std::to_string(i)))) co_return;
        // The next chunk is written only after the client has seen this one.
        if (!co_await acks_[i].Wait()) co_return;
      }
      co_await writer.Finish();
      co_return;
    }
    if (target == "/hang") {
      hang_started_.Set();
      if (!co_await never_.Wait()) hang_cancelled_.Set();
      co_return;
    }
    if (target == "/stream-forever") {
      ResponseHead head;
      head.result(http::status::ok);
      if (!co_await writer.StartStream(std::move(head))) co_return;
      if (!co_await writer.Write("first")) co_return;
      if (!co_await never_.Wait()) hang_cancelled_.Set();
      co_return;
    }
    if (target == "/slow") {
      asio::steady_timer pause(co_await asio::this_coro::executor, 600ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
    Response response(http::status::ok, request.version());
    if (target == "/big") {
      response.body() = std::string(100, 'x');
    } else if (target == "/close") {
      response.keep_alive(false);
      response.body() = "closing";
    } else {
      response.body() = std::string(request.method_string()) + " " + target + " " + request.body();
    }
    co_await writer.Send(std::move(response));
  }

  asio::io_context context_;
  std::unique_ptr<Server> server_;
  HostPort upstream_;
  TestEvent acks_[3];
  TestEvent never_;
  TestEvent hang_started_;
  TestEvent hang_cancelled_;
};

TEST_F(ClientTest, SendReusesThePooledConnection) {
  HttpClient client(context_.get_executor());
  for (int i = 0; i < 3; ++i) {
    Request request(http::verb::post, "/echo", 11);
    request.body() = "n" + std::to_string(i);
    auto response = RunOn(context_, client.Send(upstream_, std::move(request), Later()));
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    EXPECT_EQ(response->result(), http::status::ok);
    EXPECT_EQ(response->body(), "POST /echo n" + std::to_string(i));
  }
  EXPECT_EQ(server_->Stats().accepted_connections, 1u);
  const ClientStats stats = client.Stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.connections_reused, 2u);
  EXPECT_EQ(stats.idle_connections, 1u);
}

TEST_F(ClientTest, ConnectionClosedByServerIsNotPooled) {
  HttpClient client(context_.get_executor());
  auto response = RunOn(context_, client.Send(upstream_, Get("/close"), Later()));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "closing");
  EXPECT_EQ(client.Stats().idle_connections, 0u);
}

TEST_F(ClientTest, OpenDeliversChunksAsTheyArrive) {
  HttpClient client(context_.get_executor());
  std::vector<std::string> events;
  auto result = RunOn(context_, [&]() -> asio::awaitable<Result<void>> {
    auto response = co_await client.Open(upstream_, Get("/sse"), Later());
    if (!response) co_return response.error();
    EXPECT_EQ(response->status(), 200u);
    EXPECT_EQ(response->head()[http::field::content_type], "text/event-stream");
    SseParser parser;
    while (true) {
      auto bytes = co_await response->Read();
      if (!bytes) co_return bytes.error();
      if (bytes->empty()) break;
      parser.Feed(*bytes);
      while (true) {
        auto event = parser.Next();
        if (!event) co_return event.error();
        if (!*event) break;
        events.emplace_back((*event)->data);
        // Only now may the server write the next chunk.
        acks_[events.size() - 1].Set();
      }
    }
    EXPECT_TRUE(response->done());
    co_return Result<void>();
  }());
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_THAT(events, ::testing::ElementsAre("chunk 0", "chunk 1", "chunk 2"));
  EXPECT_EQ(client.Stats().idle_connections, 1u);
}

TEST_F(ClientTest, DestroyingAStreamEarlyClosesItsConnection) {
  HttpClient client(context_.get_executor());
  auto first = RunOn(context_, [&]() -> asio::awaitable<Result<std::string>> {
    auto response = co_await client.Open(upstream_, Get("/stream-forever"), Later());
    if (!response) co_return response.error();
    auto bytes = co_await response->Read();
    if (!bytes) co_return bytes.error();
    co_return std::string(*bytes);
  }());  // the StreamingResponse is destroyed here, mid-body
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(*first, "first");
  EXPECT_TRUE(hang_cancelled_.WaitFor());  // the server saw the client leave
  EXPECT_EQ(client.Stats().idle_connections, 0u);

  auto next = RunOn(context_, client.Send(upstream_, Get("/echo"), Later()));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(client.Stats().connections_opened, 2u);
}

TEST_F(ClientTest, HeadResponseHasNoBodyToRead) {
  HttpClient client(context_.get_executor());
  for (int i = 0; i < 2; ++i) {
    auto response =
        RunOn(context_, client.Send(upstream_, Request(http::verb::head, "/h", 11), Later()));
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    EXPECT_EQ((*response)[http::field::content_length], "8");
    EXPECT_TRUE(response->body().empty());
  }
  EXPECT_EQ(client.Stats().connections_opened, 1u);
}

TEST_F(ClientTest, DeadlinePassingReturnsDeadlineExceeded) {
  HttpClient client(context_.get_executor());
  auto response = RunOn(
      context_, client.Send(upstream_, Get("/hang"), std::chrono::steady_clock::now() + 200ms));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, Errc::kDeadlineExceeded) << response.error().ToString();
  EXPECT_TRUE(hang_cancelled_.WaitFor());
  EXPECT_EQ(client.Stats().idle_connections, 0u);
}

// The deadline timer is re-armed lazily on a reused connection. A call with a later deadline than
// the wait left pending by the call before must not be cut short when that wait expires ...
TEST_F(ClientTest, AnEarlierCallsDeadlineDoesNotCutALaterCallShort) {
  HttpClient client(context_.get_executor());
  auto first = RunOn(
      context_, client.Send(upstream_, Get("/echo"), std::chrono::steady_clock::now() + 200ms));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto slow = RunOn(context_, client.Send(upstream_, Get("/slow"), Later()));
  ASSERT_TRUE(slow.has_value()) << slow.error().ToString();
  EXPECT_EQ(client.Stats().connections_reused, 1u);
}

// ... and a call with an earlier deadline than the pending wait's must still time out at it.
TEST_F(ClientTest, AnEarlierDeadlineOnAReusedConnectionStillTimesOut) {
  HttpClient client(context_.get_executor());
  auto first = RunOn(context_, client.Send(upstream_, Get("/echo"), Later()));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto hung = RunOn(context_,
                    client.Send(upstream_, Get("/hang"), std::chrono::steady_clock::now() + 200ms));
  ASSERT_FALSE(hung.has_value());
  EXPECT_EQ(hung.error().code, Errc::kDeadlineExceeded);
  EXPECT_EQ(client.Stats().connections_reused, 1u);
  // The handler waits on never_, a member of this fixture: it must end before teardown.
  EXPECT_TRUE(hang_cancelled_.WaitFor());
}

TEST_F(ClientTest, CancellingTheCallerReturnsCancelled) {
  HttpClient client(context_.get_executor());
  asio::cancellation_signal cancel;
  std::optional<Result<Response>> result;
  asio::co_spawn(
      context_,
      [&]() -> asio::awaitable<void> {
        result.emplace(co_await client.Send(upstream_, Get("/hang"), Later()));
      },
      asio::bind_cancellation_slot(cancel.slot(), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      }));
  asio::co_spawn(
      context_,
      [&]() -> asio::awaitable<void> {
        co_await hang_started_.Wait();  // the request is at the server: the client is reading
        cancel.emit(asio::cancellation_type::terminal);
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  context_.run();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->has_value());
  EXPECT_EQ(result->error().code, Errc::kCancelled) << result->error().ToString();
  EXPECT_TRUE(hang_cancelled_.WaitFor());
}

TEST_F(ClientTest, RefusedConnectionIsUnavailable) {
  uint16_t closed_port;
  {
    asio::io_context context;
    asio::ip::tcp::acceptor acceptor(context, {asio::ip::address_v4::loopback(), 0});
    closed_port = acceptor.local_endpoint().port();
  }
  HttpClient client(context_.get_executor());
  auto response = RunOn(context_, client.Send({"127.0.0.1", closed_port}, Get("/"), Later()));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, Errc::kUnavailable);
  EXPECT_THAT(response.error().message, HasSubstr("connecting to 127.0.0.1"));
}

TEST_F(ClientTest, ConnectTimeoutIsUnavailableWhenThePeerNeverAccepts) {
  // A listener that never accepts, with its accept queue filled: the kernel then drops further
  // SYNs, as a dead host or a hung server would, and connect() hangs.
  asio::io_context context;
  asio::ip::tcp::acceptor listener(context);
  listener.open(asio::ip::tcp::v4());
  listener.bind({asio::ip::address_v4::loopback(), 0});
  listener.listen(0);
  const uint16_t port = listener.local_endpoint().port();
  // Plain non-blocking connect(2)s: Asio's synchronous connect would wait for completion.
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(fd);
  }
  ClientConfig config;
  config.connect_timeout = 200ms;
  HttpClient client(context_.get_executor(), config);
  auto response = RunOn(context_, client.Send({"127.0.0.1", port}, Get("/"), Later()));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, Errc::kUnavailable) << response.error().message;
  EXPECT_THAT(response.error().message, HasSubstr("no connection within 200 ms"));
  for (int fd : fillers) ::close(fd);
}

TEST_F(ClientTest, BodyOverTheLimitIsResourceExhausted) {
  ClientConfig config;
  config.max_body_bytes = 10;
  HttpClient client(context_.get_executor(), config);
  auto response = RunOn(context_, client.Send(upstream_, Get("/big"), Later()));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, Errc::kResourceExhausted);
}

// A hand-rolled upstream on its own thread: for each of `responses`, accepts a connection,
// reads one request and writes the response verbatim, then closes.
class ScriptedUpstream {
 public:
  explicit ScriptedUpstream(std::vector<std::string> responses)
      : acceptor_(context_, {asio::ip::address_v4::loopback(), 0}),
        thread_([this, responses = std::move(responses)] {
          for (const std::string& response : responses) {
            boost::system::error_code ec;
            asio::ip::tcp::socket socket(context_);
            acceptor_.accept(socket, ec);
            if (ec) return;
            ++accepted_;
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
              const size_t n = socket.read_some(asio::buffer(buffer), ec);
              if (ec) break;
              request.append(buffer, n);
            }
            {
              std::lock_guard lock(mu_);
              requests_.push_back(request);
            }
            asio::write(socket, asio::buffer(response), ec);
            socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
            ++half_closed_;  // on loopback the FIN is at the client once shutdown() returns
            // Wait for the client's close so that ours does not reset the response.
            while (!ec) socket.read_some(asio::buffer(buffer), ec);
          }
        }) {}
  ~ScriptedUpstream() { thread_.join(); }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_; }
  // What each connection received up to the end of the request head (and maybe more).
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits (bounded) until `n` connections were answered and half-closed by the upstream.
  bool WaitHalfClosed(int n) const {
    const auto give_up = std::chrono::steady_clock::now() + kHangGuard;
    while (half_closed_ < n) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

 private:
  asio::io_context context_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> accepted_{0};
  std::atomic<int> half_closed_{0};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

TEST_F(ClientTest, MalformedResponseIsInternal) {
  HttpClient client(context_.get_executor());
  uint16_t port;
  {
    ScriptedUpstream upstream({"HTTP/1.1 two hundred\r\n\r\n"});
    port = upstream.port();
    auto response = RunOn(context_, client.Send({"127.0.0.1", port}, Get("/"), Later()));
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, Errc::kInternal);
    EXPECT_THAT(response.error().message, HasSubstr("malformed response"));
  }
}

TEST_F(ClientTest, StalePooledConnectionIsReplacedTransparently) {
  // Each connection answers once with keep-alive, then the upstream closes it.
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ScriptedUpstream upstream({ok, ok});
  HttpClient client(context_.get_executor());
  for (int i = 0; i < 2; ++i) {
    auto response = RunOn(context_, client.Send({"127.0.0.1", upstream.port()}, Get("/"), Later()));
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    EXPECT_EQ(response->body(), "ok");
  }
  EXPECT_EQ(client.Stats().connections_opened, 2u);
}

// A POST may not be repeated, so only the check before reuse saves it from a connection the
// server closed while it was pooled. The check runs for connections idle stale_check_after or
// more; 0 makes it run always.
TEST_F(ClientTest, PooledConnectionIsCheckedBeforeReuseOnceIdleForTheWindow) {
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ScriptedUpstream upstream({ok, ok});
  ClientConfig config;
  config.stale_check_after = 0ms;
  HttpClient client(context_.get_executor(), config);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(upstream.WaitHalfClosed(i));  // the pooled connection is closed by now
    Request request(http::verb::post, "/", 11);
    request.body() = "x";
    auto response =
        RunOn(context_, client.Send({"127.0.0.1", upstream.port()}, std::move(request), Later()));
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    EXPECT_EQ(response->body(), "ok");
  }
  EXPECT_EQ(client.Stats().connections_opened, 2u);
  EXPECT_EQ(client.Stats().retries, 0u);
}

// The cost of skipping the check inside the window: a POST on a connection the server closed
// moments after answering on it fails (as it would had the close raced the request).
TEST_F(ClientTest, InsideTheWindowAPooledConnectionIsReusedUnchecked) {
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ScriptedUpstream upstream({ok, ok});
  ClientConfig config;
  config.stale_check_after = std::chrono::hours(1);
  HttpClient client(context_.get_executor(), config);
  auto first = RunOn(context_, client.Send({"127.0.0.1", upstream.port()}, Get("/"), Later()));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  Request request(http::verb::post, "/", 11);
  request.body() = "x";
  auto second =
      RunOn(context_, client.Send({"127.0.0.1", upstream.port()}, std::move(request), Later()));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errc::kUnavailable);
  EXPECT_EQ(client.Stats().connections_reused, 1u);
  // The failed connection is not pooled again: the next call opens a new one.
  auto third = RunOn(context_, client.Send({"127.0.0.1", upstream.port()}, Get("/"), Later()));
  ASSERT_TRUE(third.has_value()) << third.error().ToString();
  EXPECT_EQ(client.Stats().connections_opened, 2u);
}

TEST_F(ClientTest, TheRequestGoesOutFramedByItsBodyAndIsLeftAsItWas) {
  HttpClient client(context_.get_executor());
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  ScriptedUpstream upstream({ok, ok, ok});
  const HostPort to{"127.0.0.1", upstream.port()};
  Request request(http::verb::post, "/v1/x", 11);
  request.set(http::field::content_length, "999");  // stale: the body decides
  request.set(http::field::transfer_encoding, "chunked");
  request.set("x-kept", "1");
  request.body() = "hello";
  auto body = RunOn(context_, [&]() -> asio::awaitable<Result<std::string>> {
    auto opened = co_await client.Open(to, request, Later());
    if (!opened) co_return opened.error();
    std::string all;
    while (true) {
      auto bytes = co_await opened->Read();
      if (!bytes) co_return bytes.error();
      if (bytes->empty()) break;
      all.append(*bytes);
    }
    co_return all;
  }());
  ASSERT_TRUE(body.has_value()) << body.error().ToString();
  EXPECT_EQ(*body, "ok");
  // Open() only read the request: a proxy sends the same one again elsewhere.
  EXPECT_EQ(request[http::field::content_length], "999");
  EXPECT_EQ(request.find(http::field::host), request.end());
  EXPECT_EQ(request.body(), "hello");
  auto again = RunOn(context_, client.Send(to, request, Later()));
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  // A GET without a body has no Content-Length; a Host of its own is kept.
  Request get = Get("/models");
  get.set(http::field::host, "engine.local");
  auto got = RunOn(context_, client.Send(to, get, Later()));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();

  const std::vector<std::string> seen = upstream.requests();
  ASSERT_EQ(seen.size(), 3u);
  const std::string host = "Host: 127.0.0.1:" + std::to_string(upstream.port()) + "\r\n";
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_THAT(seen[i], ::testing::StartsWith("POST /v1/x HTTP/1.1\r\n" + host));
    EXPECT_THAT(seen[i], HasSubstr("\r\nContent-Length: 5\r\n"));
    EXPECT_THAT(seen[i], HasSubstr("\r\nx-kept: 1\r\n"));
    EXPECT_THAT(seen[i], ::testing::Not(HasSubstr("999")));
    EXPECT_THAT(seen[i], ::testing::Not(HasSubstr("chunked")));
  }
  EXPECT_THAT(seen[2], ::testing::StartsWith("GET /models HTTP/1.1\r\nHost: engine.local\r\n"));
  EXPECT_THAT(seen[2], ::testing::Not(HasSubstr("Content-Length")));
}

TEST_F(ClientTest, HostPortFormatsIpv6WithBrackets) {
  EXPECT_EQ((HostPort{"10.0.0.1", 8000}).ToString(), "10.0.0.1:8000");
  EXPECT_EQ((HostPort{"::1", 8000}).ToString(), "[::1]:8000");
}

}  // namespace
}  // namespace brix::net
