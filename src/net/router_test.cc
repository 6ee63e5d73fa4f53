#include "net/router.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <memory>

#include "net/internal/test_helpers.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using testing::RawClient;
using testing::RawGet;

// A handler answering with a fixed body.
Handler Answer(std::string body) {
  return [body](Request request, ResponseWriter writer) -> asio::awaitable<void> {
    Response response(http::status::ok, request.version());
    response.body() = body;
    co_await writer.Send(std::move(response));
  };
}

class RouterTest : public ::testing::Test {
 protected:
  std::optional<Response> Fetch(const Router& router, const std::string& raw_request) {
    if (!server_) {
      server_ = std::make_unique<Server>(ServerConfig{}, router.Build());
      auto port = server_->Start();
      EXPECT_TRUE(port.has_value());
      port_ = *port;
    }
    RawClient client(port_);
    client.Send(raw_request);
    return client.ReadResponse();
  }

  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(RouterTest, DispatchesByPathAndMethodIgnoringTheQuery) {
  Router router;
  router.Add(http::verb::get, "/v1/models", Answer("models"));
  router.Add(http::verb::post, "/v1/chat/completions", Answer("chat"));
  router.Add(http::verb::get, "/v1/chat/completions", Answer("chat-get"));
  EXPECT_EQ(Fetch(router, RawGet("/v1/models?limit=3"))->body(), "models");
  EXPECT_EQ(Fetch(router,
                  "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n"
                  "Content-Length: 0\r\n\r\n")
                ->body(),
            "chat");
  EXPECT_EQ(Fetch(router, RawGet("/v1/chat/completions"))->body(), "chat-get");
}

TEST_F(RouterTest, UnknownPathIs404Envelope) {
  Router router;
  router.Add(http::verb::get, "/v1/models", Answer("models"));
  auto response = Fetch(router, RawGet("/nope"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::not_found);
  const auto json = boost::json::parse(response->body());
  EXPECT_EQ(json.at("error").at("type").as_string(), "not_found_error");
  EXPECT_EQ(json.at("error").at("code").as_int64(), 404);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Router router;
  router.Add(http::verb::post, "/v1/completions", Answer("c"));
  router.Add(http::verb::options, "/v1/completions", Answer("o"));
  auto response = Fetch(router, RawGet("/v1/completions"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::method_not_allowed);
  EXPECT_EQ((*response)[http::field::allow], "POST, OPTIONS");
}

TEST_F(RouterTest, DefaultHandlerTakesUnknownPaths) {
  Router router;
  router.Add(http::verb::get, "/known", Answer("known"));
  router.SetDefault(Answer("fallback"));
  EXPECT_EQ(Fetch(router, RawGet("/anything/else"))->body(), "fallback");
  EXPECT_EQ(Fetch(router, RawGet("/known"))->body(), "known");
}

TEST_F(RouterTest, BuiltHandlerIsASnapshot) {
  Router router;
  router.Add(http::verb::get, "/a", Answer("a"));
  Handler built = router.Build();
  router.Add(http::verb::get, "/b", Answer("b"));
  server_ = std::make_unique<Server>(ServerConfig{}, built);
  port_ = *server_->Start();
  EXPECT_EQ(Fetch(router, RawGet("/b"))->result(), http::status::not_found);
}

TEST(TargetPathTest, StripsQueryAndFragment) {
  EXPECT_EQ(TargetPath("/v1/models?x=1"), "/v1/models");
  EXPECT_EQ(TargetPath("/a#frag"), "/a");
  EXPECT_EQ(TargetPath("/plain"), "/plain");
  EXPECT_EQ(TargetPath(""), "");
}

}  // namespace
}  // namespace brix::net
