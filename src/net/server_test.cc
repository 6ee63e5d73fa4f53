#include "net/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/parse.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "net/client.h"
#include "net/internal/test_helpers.h"
#include "net/sse.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::kHangGuard;
using testing::RawClient;
using testing::RawGet;
using testing::TestEvent;

// Answers "<method> <target> <body>".
asio::awaitable<void> Echo(Request request, ResponseWriter writer) {
  Response response(http::status::ok, request.version());
  response.set(http::field::content_type, "text/plain");
  response.body() = std::string(request.method_string()) + " " + std::string(request.target()) +
                    " " + request.body();
  co_await writer.Send(std::move(response));
}

ServerConfig TestConfig() {
  ServerConfig config;
  config.drain_timeout = kHangGuard;
  return config;
}

class ServerTest : public ::testing::Test {
 protected:
  uint16_t Start(ServerConfig config, Handler handler) {
    server_ = std::make_unique<Server>(std::move(config), std::move(handler));
    auto port = server_->Start();
    EXPECT_TRUE(port.has_value()) << (port ? "" : port.error().ToString());
    return port ? *port : 0;
  }

  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, BeforeTeardownRunsOnceAfterWorkersFinishWithExecutorsAlive) {
  // A per-worker HttpClient created in a handler, pooled connection included, must be
  // destroyable in the hook: its sockets still belong to a live io_context then.
  auto upstream = std::make_unique<Server>(TestConfig(), Echo);
  auto upstream_port = upstream->Start();
  ASSERT_TRUE(upstream_port.has_value());
  std::unique_ptr<HttpClient> client;
  int calls = 0;
  server_ = std::make_unique<Server>(
      TestConfig(), [&, up = *upstream_port](Request, ResponseWriter w) -> asio::awaitable<void> {
        if (!client) client = std::make_unique<HttpClient>(co_await asio::this_coro::executor);
        Request request(http::verb::get, "/x", 11);
        HostPort where("127.0.0.1", up);
        auto deadline = std::chrono::steady_clock::now() + kHangGuard;
        Result<Response> got = co_await client->Send(where, request, deadline);
        Response response(http::status::ok, 11);
        response.body() = got ? got->body() : "error";
        co_await w.Send(std::move(response));
      });
  server_->SetBeforeTeardown([&] {
    ++calls;
    client.reset();
  });
  auto port = server_->Start();
  ASSERT_TRUE(port.has_value());
  {
    RawClient raw(*port);
    ASSERT_TRUE(raw.Send(RawGet("/")));
    auto response = raw.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body(), "GET /x ");
  }
  EXPECT_EQ(calls, 0);
  server_->Stop();
  server_->Stop();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(client, nullptr);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.Send(RawGet("/n" + std::to_string(i))));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result(), http::status::ok);
    EXPECT_EQ(response->body(), "GET /n" + std::to_string(i) + " ");
    EXPECT_TRUE(response->keep_alive());
    EXPECT_NE(response->find(http::field::date), response->end());
  }
  const ServerStats stats = server_->Stats();
  EXPECT_EQ(stats.accepted_connections, 1u);
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(stats.responses_2xx, 3u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/a") +
                          "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody" +
                          RawGet("/c")));
  for (const char* expected : {"GET /a ", "POST /b body", "GET /c "}) {
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body(), expected);
  }
}

TEST_F(ServerTest, ALongBodyThenPipelinedRequestsSurviveTheBufferShrinking) {
  // The body takes several body-sized reads and grows the read buffer; it is shrunk back when
  // the request is complete, with the pipelined requests' bytes still in it.
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  std::string body(100 * 1024 + 7, 'x');
  for (size_t i = 0; i < body.size(); i += 997) body[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(client.Send("POST /long HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body + RawGet("/next") +
                          "POST /short HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok"));
  auto first = client.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body(), "POST /long " + body);
  for (const char* expected : {"GET /next ", "POST /short ok"}) {
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body(), expected);
  }
}

TEST_F(ServerTest, ChunkedRequestBodyIsDecoded) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(
      client.Send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "POST /x abcde");
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  const uint16_t port = Start(TestConfig(), Echo);
  {
    RawClient client(port);
    ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->version(), 10u);
    EXPECT_EQ(response->body(), "GET /old ");
    EXPECT_FALSE(response->keep_alive());
    EXPECT_TRUE(client.ReadsEof());
  }
  RawClient client(port);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.Send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->version(), 10u);
    EXPECT_TRUE(response->keep_alive());
  }
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/", "Connection: close\r\n")));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponseBeforeTheBody) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send(
      "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.ReadResponse();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->result(), http::status::continue_);
  ASSERT_TRUE(client.Send("hello"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::ok);
  EXPECT_EQ(response->body(), "POST /up hello");
}

TEST_F(ServerTest, HeadResponseHasLengthButNoBody) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + RawGet("/next")));
  auto head = client.ReadResponse(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ((*head)[http::field::content_length], "8");  // "HEAD /h "
  // Were a body sent, it would be parsed as the next response and fail.
  auto next = client.ReadResponse();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "GET /next ");
}

TEST_F(ServerTest, MalformedRequestIs400WithErrorEnvelopeAndClose) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send("THIS IS NOT HTTP\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::bad_request);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_EQ((*response)[http::field::content_type], "application/json");
  const auto json = boost::json::parse(response->body());
  EXPECT_EQ(json.at("error").at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(json.at("error").at("code").as_int64(), 400);
  EXPECT_TRUE(client.ReadsEof());
  EXPECT_EQ(server_->Stats().responses_4xx, 1u);
  EXPECT_EQ(server_->Stats().requests, 0u);
}

TEST_F(ServerTest, MissingHostIs400) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::bad_request);
  EXPECT_THAT(response->body(), HasSubstr("Host"));
}

TEST_F(ServerTest, UnsupportedVersionIs505) {
  const uint16_t port = Start(TestConfig(), Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send("GET / HTTP/2.0\r\nHost: t\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::http_version_not_supported);
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  ServerConfig config = TestConfig();
  config.max_header_bytes = 1024;
  const uint16_t port = Start(config, Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/", "X-Big: " + std::string(2000, 'a') + "\r\n")));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::request_header_fields_too_large);
  EXPECT_FALSE(response->keep_alive());
}

TEST_F(ServerTest, OversizedBodyIs413AndCloses) {
  ServerConfig config = TestConfig();
  config.max_body_bytes = 10;
  const uint16_t port = Start(config, Echo);
  {
    RawClient client(port);
    ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result(), http::status::payload_too_large);
    EXPECT_FALSE(response->keep_alive());
    EXPECT_TRUE(client.ReadsEof());
  }
  RawClient chunked(port);
  ASSERT_TRUE(
      chunked.Send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  auto response = chunked.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::payload_too_large);
}

TEST_F(ServerTest, IncompleteHeaderIs408AfterHeaderTimeout) {
  ServerConfig config = TestConfig();
  config.header_timeout = 200ms;
  const uint16_t port = Start(config, Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: t\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::request_timeout);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerTest, IncompleteBodyIs408AfterBodyTimeout) {
  ServerConfig config = TestConfig();
  config.body_timeout = 200ms;
  const uint16_t port = Start(config, Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::request_timeout);
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerTest, SilentConnectionIsClosedWithoutResponse) {
  ServerConfig config = TestConfig();
  config.header_timeout = 200ms;
  const uint16_t port = Start(config, Echo);
  RawClient client(port);
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedSilently) {
  ServerConfig config = TestConfig();
  config.idle_timeout = 200ms;
  const uint16_t port = Start(config, Echo);
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/")));
  ASSERT_TRUE(client.ReadResponse());
  EXPECT_TRUE(client.ReadsEof());
  EXPECT_EQ(server_->Stats().responses_4xx, 0u);
}

TEST_F(ServerTest, ConnectionsOverTheLimitGet503) {
  ServerConfig config = TestConfig();
  config.max_connections = 1;
  const uint16_t port = Start(config, Echo);
  RawClient first(port);
  ASSERT_TRUE(first.Send(RawGet("/")));
  ASSERT_TRUE(first.ReadResponse());  // admitted and still open

  RawClient second(port);
  ASSERT_TRUE(second.Send(RawGet("/")));
  auto response = second.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::service_unavailable);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(second.ReadsEof());

  // The admitted connection is unaffected.
  ASSERT_TRUE(first.Send(RawGet("/again")));
  auto again = first.ReadResponse();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->result(), http::status::ok);
  const ServerStats stats = server_->Stats();
  EXPECT_EQ(stats.accepted_connections, 1u);
  EXPECT_EQ(stats.rejected_connections, 1u);
  EXPECT_EQ(stats.open_connections, 1u);
}

TEST_F(ServerTest, HandlerWithoutResponseGets500) {
  const uint16_t port =
      Start(TestConfig(), [](Request, ResponseWriter) -> asio::awaitable<void> { co_return; });
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/")));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::internal_server_error);
}

TEST_F(ServerTest, ThrowingHandlerGets500AndServerKeepsServing) {
  const uint16_t port =
      Start(TestConfig(), [](Request request, ResponseWriter writer) -> asio::awaitable<void> {
        if (request.target() == "/throw") throw std::runtime_error("boom");
        co_await Echo(std::move(request), std::move(writer));
      });
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/throw")));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::internal_server_error);
  RawClient other(port);
  ASSERT_TRUE(other.Send(RawGet("/ok")));
  auto ok = other.ReadResponse();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result(), http::status::ok);
}

TEST_F(ServerTest, SendErrorUsesTheErrcMapping) {
  const uint16_t port =
      Start(TestConfig(), [](Request, ResponseWriter writer) -> asio::awaitable<void> {
        co_await writer.SendError(ResourceExhausted("slow down"));
      });
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/")));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::too_many_requests);
  const auto json = boost::json::parse(response->body());
  EXPECT_EQ(json.at("error").at("message").as_string(), "slow down");
  EXPECT_EQ(json.at("error").at("type").as_string(), "rate_limit_error");
  EXPECT_TRUE(response->keep_alive());
}

// Streams "one", "two" as separate chunks.
asio::awaitable<void> TwoChunks(Request, ResponseWriter writer) {
  ResponseHead head;
  head.result(http::status::ok);
  head.set(http::field::content_type, "text/event-stream");
  if (!co_await writer.StartStream(std::move(head))) co_return;
  if (!co_await writer.Write("one")) co_return;
  if (!co_await writer.Write("two")) co_return;
  co_await writer.Finish();
}

TEST_F(ServerTest, StreamedResponseIsChunkedForHttp11) {
  const uint16_t port = Start(TestConfig(), TwoChunks);
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/", "Connection: close\r\n")));
  const std::string raw = client.ReadToEof();
  EXPECT_THAT(raw, HasSubstr("Transfer-Encoding: chunked\r\n"));
  EXPECT_THAT(raw, HasSubstr("\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"));
}

TEST_F(ServerTest, StreamedResponseEndsWithCloseForHttp10) {
  const uint16_t port = Start(TestConfig(), TwoChunks);
  RawClient client(port);
  ASSERT_TRUE(client.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const std::string raw = client.ReadToEof();
  EXPECT_THAT(raw, ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(raw, ::testing::Not(HasSubstr("chunked")));
  EXPECT_THAT(raw, ::testing::EndsWith("\r\n\r\nonetwo"));
}

TEST_F(ServerTest, StreamNotFinishedByHandlerIsFinishedByServer) {
  const uint16_t port =
      Start(TestConfig(), [](Request, ResponseWriter writer) -> asio::awaitable<void> {
        ResponseHead head;
        head.result(http::status::ok);
        co_await writer.StartStream(std::move(head));
        co_await writer.Write("partial");
      });
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/")));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "partial");
}

// A handler that reports when it starts, then waits for `release` (or for its client to go).
struct BlockingHandler {
  TestEvent started;
  TestEvent release;
  TestEvent cancelled;

  Handler AsHandler() {
    return [this](Request request, ResponseWriter writer) -> asio::awaitable<void> {
      if (request.target() != "/block") {
        co_await Echo(std::move(request), std::move(writer));
        co_return;
      }
      started.Set();
      const bool released = co_await release.Wait();
      const auto state = co_await asio::this_coro::cancellation_state;
      if (!released) {
        if (state.cancelled() != asio::cancellation_type::none) cancelled.Set();
        co_return;
      }
      Response response(http::status::ok, request.version());
      response.body() = "released";
      co_await writer.Send(std::move(response));
    };
  }
};

TEST_F(ServerTest, ClientDisconnectCancelsTheRunningHandler) {
  BlockingHandler handler;
  const uint16_t port = Start(TestConfig(), handler.AsHandler());
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/block")));
  ASSERT_TRUE(handler.started.WaitFor());
  client.Close();
  EXPECT_TRUE(handler.cancelled.WaitFor());
}

TEST_F(ServerTest, PipelinedRequestArrivingDuringHandlerIsNotLost) {
  BlockingHandler handler;
  const uint16_t port = Start(TestConfig(), handler.AsHandler());
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/block")));
  ASSERT_TRUE(handler.started.WaitFor());
  ASSERT_TRUE(client.Send(RawGet("/after")));
  handler.release.Set();
  auto first = client.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body(), "released");
  auto second = client.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body(), "GET /after ");
  EXPECT_FALSE(handler.cancelled.is_set());
}

TEST_F(ServerTest, GracefulDrainFinishesInFlightWorkAndRefusesNewConnections) {
  TestEvent stream_started;
  TestEvent stream_release;
  BlockingHandler blocking;
  Handler block = blocking.AsHandler();
  const uint16_t port = Start(
      TestConfig(), [&, block](Request request, ResponseWriter writer) -> asio::awaitable<void> {
        if (request.target() != "/stream") {
          co_await block(std::move(request), std::move(writer));
          co_return;
        }
        ResponseHead head;
        head.result(http::status::ok);
        head.set(http::field::content_type, "text/event-stream");
        if (!co_await writer.StartStream(std::move(head))) co_return;
        if (!co_await writer.Write(FormatSseEvent("first"))) co_return;
        stream_started.Set();
        co_await stream_release.Wait();
        if (!co_await writer.Write(FormatSseEvent("second"))) co_return;
        co_await writer.Finish();
      });

  // A streaming response in flight, read by HttpClient on its own thread.
  std::string streamed;
  Result<void> stream_result;
  std::thread stream_thread([&] {
    asio::io_context context;
    HttpClient client(context.get_executor());
    stream_result = testing::RunOn(context, [&]() -> asio::awaitable<Result<void>> {
      Request request(http::verb::get, "/stream", 11);
      auto response = co_await client.Open({"127.0.0.1", port}, std::move(request),
                                           std::chrono::steady_clock::now() + kHangGuard);
      if (!response) co_return response.error();
      while (true) {
        auto bytes = co_await response->Read();
        if (!bytes) co_return bytes.error();
        if (bytes->empty()) co_return Result<void>();
        streamed.append(*bytes);
      }
    }());
  });
  ASSERT_TRUE(stream_started.WaitFor());

  // A request in flight whose response comes after the drain started.
  RawClient in_flight(port);
  ASSERT_TRUE(in_flight.Send(RawGet("/block")));
  ASSERT_TRUE(blocking.started.WaitFor());

  // An idle keep-alive connection.
  RawClient idle(port);
  ASSERT_TRUE(idle.Send(RawGet("/")));
  ASSERT_TRUE(idle.ReadResponse());

  server_->BeginDrain();
  EXPECT_TRUE(idle.ReadsEof());
  RawClient refused(port);
  EXPECT_FALSE(refused.connected());
  EXPECT_EQ(refused.connect_errno(), ECONNREFUSED);

  blocking.release.Set();
  auto response = in_flight.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "released");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(in_flight.ReadsEof());

  stream_release.Set();
  stream_thread.join();
  EXPECT_TRUE(stream_result.has_value()) << stream_result.error().ToString();
  EXPECT_EQ(streamed, "data: first\n\ndata: second\n\n");

  // The server lingers on connections it closed until their clients close too.
  in_flight.Close();
  idle.Close();
  server_->Stop();
  EXPECT_EQ(server_->Stats().open_connections, 0u);
}

TEST_F(ServerTest, StopForceClosesHandlersAfterDrainTimeout) {
  BlockingHandler handler;
  ServerConfig config = TestConfig();
  config.drain_timeout = 100ms;
  const uint16_t port = Start(config, handler.AsHandler());
  RawClient client(port);
  ASSERT_TRUE(client.Send(RawGet("/block")));
  ASSERT_TRUE(handler.started.WaitFor());
  server_->Stop();
  EXPECT_TRUE(handler.cancelled.is_set());
  EXPECT_EQ(server_->Stats().open_connections, 0u);
}

TEST_F(ServerTest, SeveralWorkersShareThePort) {
  ServerConfig config = TestConfig();
  config.workers = 3;
  const uint16_t port = Start(config, Echo);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(clients.back()->Send(RawGet("/w")));
  }
  for (auto& client : clients) {
    auto response = client->ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result(), http::status::ok);
  }
  EXPECT_EQ(server_->Stats().accepted_connections, 12u);
}

TEST_F(ServerTest, StartOnAPortInUseReturnsAnError) {
  const uint16_t port = Start(TestConfig(), Echo);
  for (int workers : {1, 2}) {
    ServerConfig config = TestConfig();
    config.port = port;
    config.workers = workers;
    Server second(config, Echo);
    auto result = second.Start();
    ASSERT_FALSE(result.has_value()) << "workers=" << workers;
    EXPECT_EQ(result.error().code, Errc::kUnavailable);
    EXPECT_THAT(result.error().message, HasSubstr(std::to_string(port)));
  }
}

TEST_F(ServerTest, ServersThatSharePortSplitConnectionsAndOthersAreRefused) {
  ServerConfig config = TestConfig();
  config.share_port = true;
  const uint16_t port = Start(config, Echo);
  config.port = port;
  Server second(config, Echo);
  ASSERT_TRUE(second.Start().has_value());
  // The kernel picks a listener per connection by a hash of its addresses: in 64 connections
  // both get some (all on one has probability 2^-63).
  for (int i = 0; i < 64; ++i) {
    RawClient client(port);
    ASSERT_TRUE(client.Send(RawGet("/shared")));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result(), http::status::ok);
  }
  EXPECT_GT(server_->Stats().requests, 0u);
  EXPECT_GT(second.Stats().requests, 0u);
  EXPECT_EQ(server_->Stats().requests + second.Stats().requests, 64u);
  // A server that did not ask to share cannot join, with one worker or several.
  for (int workers : {1, 2}) {
    ServerConfig other = TestConfig();
    other.port = port;
    other.workers = workers;
    Server third(other, Echo);
    auto result = third.Start();
    ASSERT_FALSE(result.has_value()) << "workers=" << workers;
    EXPECT_EQ(result.error().code, Errc::kUnavailable);
  }
}

TEST_F(ServerTest, SharingServerCannotJoinAPortHeldWithoutSharing) {
  const uint16_t port = Start(TestConfig(), Echo);
  ServerConfig config = TestConfig();
  config.port = port;
  config.share_port = true;
  Server second(config, Echo);
  auto result = second.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
}

TEST_F(ServerTest, StartRejectsABadConfig) {
  ServerConfig config = TestConfig();
  config.workers = 0;
  config.idle_timeout = 0ms;
  Server server(config, Echo);
  auto result = server.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("workers"));
  EXPECT_THAT(result.error().message, HasSubstr("idle_timeout"));

  ServerConfig bad_address = TestConfig();
  bad_address.address = "not-an-ip";
  Server other(bad_address, Echo);
  auto second = other.Start();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace brix::net
