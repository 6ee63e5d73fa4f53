#include "bench/bench.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>
#include <thread>

#include "net/router.h"
#include "net/server.h"
#include "report/report.h"
#include "tokenizer/tokenizer.h"
#include "workload/prompt_text.h"
#include "workload/synthetic.h"

namespace brix::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(ParseTarget, AcceptsHostPortAndPrefix) {
  Result<Target> t = ParseTarget("http://127.0.0.1:8000");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 8000);
  EXPECT_EQ(t->base_path, "");
  t = ParseTarget("http://example:81/proxy/");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->base_path, "/proxy");
  EXPECT_EQ(t->ToString(), "http://example:81/proxy");
  t = ParseTarget("http://[::1]:9000");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->ToString(), "http://[::1]:9000");
  EXPECT_EQ(ParseTarget("http://localhost")->port, 80);
  EXPECT_THAT(ParseTarget("https://x").error().message, HasSubstr("https is not supported"));
  EXPECT_THAT(ParseTarget("localhost:80").error().message, HasSubstr("expected an http:// URL"));
  EXPECT_THAT(ParseTarget("http://x:99999").error().message, HasSubstr("bad port '99999'"));
  EXPECT_THAT(ParseTarget("http://x:").error().message, HasSubstr("bad port"));
  EXPECT_THAT(ParseTarget("http://:80").error().message, HasSubstr("no host"));
  EXPECT_FALSE(ParseApi("responses"));
}

TEST(FormatProgress, ShowsCountsAndABar) {
  Progress p;
  p.total = 10;
  p.sent = 6;
  p.ok = 5;
  p.in_flight = 1;
  p.elapsed_s = 3;
  p.last_arrival_s = 9;
  EXPECT_EQ(FormatProgress(p, 10),
            "[=====>    ] 6/10 sent  5 ok  0 failed  1 in flight  3 s / 9 s");
}

// A fake OpenAI server: streams max_tokens chunks of "tok " (2 ms apart) with usage, answers by
// model: "fail" -> 503 envelope, "broken" -> a stream cut before [DONE], "hang" -> waits a minute.
// /metrics counts the requests it answered into a vLLM TTFT histogram (all in the 10 ms bucket).
class FakeServer {
 public:
  FakeServer() {
    net::Router router;
    router.Add(http::verb::post, "/v1/chat/completions",
               [this](net::Request req, net::ResponseWriter w) {
                 return Chat(std::move(req), std::move(w));
               });
    router.Add(http::verb::get, "/v1/models",
               [](net::Request, net::ResponseWriter w) -> asio::awaitable<void> {
                 net::Response r(http::status::ok, 11);
                 r.set(http::field::content_type, "application/json");
                 r.body() = R"({"object":"list","data":[{"id":"m","object":"model"}]})";
                 co_await w.Send(std::move(r));
               });
    router.Add(http::verb::get, "/metrics",
               [this](net::Request, net::ResponseWriter w) -> asio::awaitable<void> {
                 const int n = answered_.load();
                 net::Response r(http::status::ok, 11);
                 r.body() = "# TYPE vllm:time_to_first_token_seconds histogram\n" +
                            fmt::format(
                                "vllm:time_to_first_token_seconds_bucket{{le=\"0.005\"}} 0\n"
                                "vllm:time_to_first_token_seconds_bucket{{le=\"0.01\"}} {0}\n"
                                "vllm:time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {0}\n"
                                "vllm:time_to_first_token_seconds_sum {1}\n"
                                "vllm:time_to_first_token_seconds_count {0}\n",
                                n, n * 0.008);
                 co_await w.Send(std::move(r));
               });
    server_ = std::make_unique<net::Server>(net::ServerConfig{}, router.Build());
    port_ = server_->Start().value();
  }

  Target target() const { return *ParseTarget(fmt::format("http://127.0.0.1:{}", port_)); }
  std::vector<boost::json::object> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  void Stop() { server_->Stop(); }
  uint64_t connections() const { return server_->Stats().accepted_connections; }

 private:
  asio::awaitable<void> Chat(net::Request req, net::ResponseWriter w) {
    boost::json::object body = boost::json::parse(req.body()).as_object();
    {
      std::lock_guard lock(mutex_);
      bodies_.push_back(body);
    }
    const std::string model(body.at("model").as_string());
    if (model == "fail") {
      net::Response r(http::status::service_unavailable, 11);
      r.body() =
          R"({"error":{"message":"no capacity","type":"server_error","param":null,"code":503}})";
      co_await w.Send(std::move(r));
      co_return;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    if (model == "hang") {
      timer.expires_after(60s);
      co_await timer.async_wait(asio::use_awaitable);
      co_return;
    }
    net::ResponseHead head;
    head.result(http::status::ok);
    head.set(http::field::content_type, "text/event-stream");
    head.set("target-pod", "fake-0");
    head.set("x-brix-attempt-count", "2");
    co_await w.StartStream(std::move(head));
    const int64_t n = body.at("max_tokens").as_int64();
    for (int64_t i = 0; i < n; ++i) {
      timer.expires_after(2ms);
      co_await timer.async_wait(asio::use_awaitable);
      co_await w.Write(R"(data: {"choices":[{"index":0,"delta":{"content":"tok "}}]})"
                       "\n\n");
      if (model == "broken" && i == 1) co_return;  // the server ends the chunked body
    }
    const size_t messages = body.at("messages").as_array().size();
    co_await w.Write(fmt::format(
        "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{}}}}}\n\n",
        messages, n));
    co_await w.Write("data: [DONE]\n\n");
    co_await w.Finish();
    ++answered_;
  }

  std::mutex mutex_;
  std::vector<boost::json::object> bodies_;
  std::atomic<int> answered_{0};
  std::unique_ptr<net::Server> server_;
  uint16_t port_ = 0;
};

class RunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tok = tokenizer::Tokenizer::LoadFiles(std::string(BRIX_TOKENIZER_CACHE) +
                                               "/llama3/tokenizer.json");
    ASSERT_TRUE(tok) << tok.error().message;
    tokenizer_ = new std::shared_ptr<const tokenizer::Tokenizer>(*tok);
    text_ = new workload::PromptText(workload::PromptText::Create(**tokenizer_).value());
  }

  static workload::Workload Sessions(int count, int turns, double rate, int64_t input,
                                     int64_t output) {
    workload::SyntheticSpec spec;
    spec.arrival = workload::Arrival::kConstant;
    spec.rate = rate;
    spec.duration_s = count / rate;
    spec.turns = turns;
    spec.input = *workload::ParseDistribution(std::to_string(input));
    spec.output = *workload::ParseDistribution(std::to_string(output));
    return *workload::GenerateSynthetic(spec);
  }

  Results Run(workload::Workload w, const std::string& model, size_t overhead = 0,
              std::optional<Target> target = std::nullopt) {
    Options options;
    options.target = target ? *target : server_.target();
    options.model = model;
    options.workers = 2;
    options.request_timeout = 30s;
    Runner runner(options, std::move(w), *text_, overhead);
    runner.Start();
    EXPECT_TRUE(runner.WaitFor(60s));
    return runner.Finish();
  }

  static std::shared_ptr<const tokenizer::Tokenizer>* tokenizer_;
  static workload::PromptText* text_;
  FakeServer server_;
};

std::shared_ptr<const tokenizer::Tokenizer>* RunnerTest::tokenizer_ = nullptr;
workload::PromptText* RunnerTest::text_ = nullptr;

TEST_F(RunnerTest, StreamsEveryRequestAndMeasuresIt) {
  Result<ServerTtft> server_ttft = ServerTtft::Begin({server_.target()}, 5s);
  ASSERT_TRUE(server_ttft) << server_ttft.error().message;
  Results results = Run(Sessions(20, 1, 200, 50, 4), "m");
  ASSERT_EQ(results.records.size(), 20u);
  for (const report::RequestRecord& r : results.records) {
    EXPECT_EQ(r.outcome, report::Outcome::kOk) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.chunks, 4);
    EXPECT_EQ(r.output_tokens, 4);
    EXPECT_EQ(r.input_tokens, 1);  // the fake's usage: the number of messages
    EXPECT_GT(r.ttft_s(), 0.0015);
    EXPECT_GE(r.e2e_s(), r.ttft_s());
    EXPECT_GE(r.sent_s, r.scheduled_s);
    EXPECT_EQ(r.replica, "fake-0");
    EXPECT_EQ(r.attempts, 2);
  }
  EXPECT_EQ(results.itl.count(), 20u * 3);
  // 20 requests 5 ms apart, each ~8 ms long: a few at a time, on reused keep-alive connections.
  EXPECT_LE(server_.connections(), 8u);
  EXPECT_FALSE(results.interrupted);
  const report::Summary s = report::Summarize(results.records, results.itl, {});
  EXPECT_EQ(s.ok, 20u);
  EXPECT_EQ(s.retried, 20u);
  Result<report::ServerSide> side = server_ttft->End(5s);
  ASSERT_TRUE(side) << side.error().message;
  EXPECT_EQ(side->count, 20);
  EXPECT_NEAR(side->mean, 0.008, 1e-9);
}

TEST_F(RunnerTest, LaterTurnsCarryTheConversation) {
  Results results = Run(Sessions(2, 3, 100, 7, 3), "m", /*overhead=*/2);
  ASSERT_EQ(results.records.size(), 6u);
  for (const report::RequestRecord& r : results.records)
    ASSERT_EQ(r.outcome, report::Outcome::kOk) << r.error;
  // The third turn of a session sent user, assistant, user, assistant, user.
  EXPECT_EQ(results.records[2].input_tokens, 5);
  EXPECT_GE(results.records[1].scheduled_s, results.records[0].end_s);
  bool seen = false;
  for (const boost::json::object& body : server_.bodies()) {
    const auto& messages = body.at("messages").as_array();
    // The first message lost the 2 tokens of chat overhead: 7 - 2 words.
    const std::string first(messages[0].at("content").as_string());
    EXPECT_EQ(std::count(first.begin(), first.end(), ' '), 5) << first;
    if (messages.size() == 5) {
      seen = true;
      EXPECT_EQ(messages[1].at("role").as_string(), "assistant");
      EXPECT_EQ(messages[1].at("content").as_string(), "tok tok tok ");
      EXPECT_EQ(body.at("max_tokens").as_int64(), 3);
      EXPECT_EQ(body.at("ignore_eos").as_bool(), true);
      EXPECT_EQ(body.at("stream_options").at("include_usage").as_bool(), true);
    }
  }
  EXPECT_TRUE(seen);
}

TEST_F(RunnerTest, FailuresAreCountedWithTheirReason) {
  Results failed = Run(Sessions(3, 2, 100, 5, 2), "fail");
  const report::Summary s = report::Summarize(failed.records, failed.itl, {});
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.not_sent, 3u);  // the second turns
  EXPECT_EQ(s.errors.at("HTTP 503: no capacity"), 3u);

  Results broken = Run(Sessions(2, 1, 100, 5, 5), "broken");
  for (const report::RequestRecord& r : broken.records) {
    EXPECT_EQ(r.outcome, report::Outcome::kFailed);
    EXPECT_EQ(r.error, "stream ended without [DONE]");
  }

  uint16_t closed_port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    closed_port = acceptor.local_endpoint().port();
  }
  Target nowhere = *ParseTarget(fmt::format("http://127.0.0.1:{}", closed_port));
  Results refused = Run(Sessions(2, 1, 100, 5, 5), "m", 0, nowhere);
  for (const report::RequestRecord& r : refused.records) {
    EXPECT_EQ(r.outcome, report::Outcome::kFailed);
    EXPECT_THAT(r.error, HasSubstr("connection:"));
  }
  Result<std::vector<std::string>> models = ListModels(nowhere, 2s);
  ASSERT_FALSE(models);
  EXPECT_THAT(models.error().message, HasSubstr("cannot reach http://127.0.0.1:"));
  Result<std::vector<std::string>> ok = ListModels(server_.target(), 2s);
  ASSERT_TRUE(ok);
  EXPECT_THAT(*ok, ::testing::ElementsAre("m"));
}

TEST_F(RunnerTest, StopAbortsRequestsInFlightAndSendsNoMore) {
  Options options;
  options.target = server_.target();
  options.model = "hang";
  workload::Workload w = Sessions(40, 1, 10, 5, 5);  // 4 s of arrivals; stopped after ~0.5 s
  Runner runner(options, std::move(w), *text_, 0);
  runner.Start();
  for (int i = 0; i < 200 && runner.progress().in_flight < 3; ++i)
    std::this_thread::sleep_for(10ms);
  runner.Stop();
  ASSERT_TRUE(runner.WaitFor(10s));
  Results results = runner.Finish();
  EXPECT_TRUE(results.interrupted);
  const report::Summary s = report::Summarize(results.records, results.itl, {});
  EXPECT_GE(s.aborted, 3u);
  EXPECT_EQ(s.ok + s.failed, 0u);
  EXPECT_GT(s.not_sent, 20u);
  EXPECT_EQ(s.scheduled, 40u);
}

}  // namespace
}  // namespace brix::bench
