#include "sim/engine_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <thread>

#include "base/check.h"

namespace brix::sim {
namespace {

namespace asio = boost::asio;

engine::Engine MakeEngine() {
  auto profile = engine::LoadProfile(std::filesystem::path(BRIX_SOURCE_DIR) / "data/profiles",
                                     "h100/llama-3.2-1b");
  BRIX_CHECK(profile.has_value());
  auto e = engine::Engine::Create(*profile, engine::EngineConfig{});
  BRIX_CHECK(e.has_value());
  return std::move(*e);
}

// Reads a stream to its end on `io`; returns the last progress.
RequestStream::Progress Drain(asio::io_context& io, std::shared_ptr<RequestStream> s) {
  auto fut = asio::co_spawn(
      io,
      [s]() -> asio::awaitable<RequestStream::Progress> {
        for (;;) {
          co_await s->Wait();
          RequestStream::Progress p = s->Read();
          if (p.finished || p.error) co_return p;
        }
      },
      asio::use_future);
  io.run();
  io.restart();
  return fut.get();
}

TEST(EngineLoopTest, RunsARequestToItsEndOnTheRealClock) {
  int steps = 0;
  int ttfts = 0;
  int itls = 0;
  EngineLoop loop(MakeEngine(), [&](const EngineLoop::StepReport& r) {
    ++steps;
    ttfts += static_cast<int>(r.ttft_seconds.size());
    itls += static_cast<int>(r.itl_seconds.size());
  });
  asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  auto s = loop.Submit(
      engine::Request{
          .prompt = std::vector<int32_t>(100, 7), .max_output_tokens = 5, .arrival = start},
      io.get_executor());
  RequestStream::Progress p = Drain(io, s);
  ASSERT_TRUE(p.finished);
  EXPECT_FALSE(p.error);
  EXPECT_EQ(p.output_tokens, 5);
  EXPECT_EQ(p.finished->reason, engine::FinishReason::kLength);
  // Five steps (the prefill emits the first token), each at least its calibrated duration.
  EXPECT_GE(std::chrono::steady_clock::now() - start, p.finished->finished - p.finished->arrival);
  loop.Stop();
  EXPECT_EQ(steps, 5);
  EXPECT_EQ(ttfts, 1);
  EXPECT_EQ(itls, 4);
  EXPECT_EQ(loop.stats().generation_tokens, 5);
}

TEST(EngineLoopTest, RefusedRequestGetsTheEnginesError) {
  EngineLoop loop(MakeEngine(), nullptr);
  asio::io_context io;
  auto s = loop.Submit(
      engine::Request{
          .prompt = {}, .max_output_tokens = 5, .arrival = std::chrono::steady_clock::now()},
      io.get_executor());
  RequestStream::Progress p = Drain(io, s);
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->code, Errc::kInvalidArgument);
}

TEST(EngineLoopTest, HangHoldsRequestsUntilReleased) {
  EngineLoop loop(MakeEngine(), nullptr);
  loop.SetHang(true);
  asio::io_context io;
  auto s = loop.Submit(engine::Request{.prompt = std::vector<int32_t>(10, 3),
                                       .max_output_tokens = 2,
                                       .arrival = std::chrono::steady_clock::now()},
                       io.get_executor());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(s->Read().output_tokens, 0);
  EXPECT_EQ(loop.stats().num_waiting, 1);
  loop.SetHang(false);
  RequestStream::Progress p = Drain(io, s);
  ASSERT_TRUE(p.finished);
  EXPECT_EQ(p.output_tokens, 2);
}

TEST(EngineLoopTest, AbortFreesTheRequestAndStopFailsTheRest) {
  EngineLoop loop(MakeEngine(), nullptr);
  loop.SetHang(true);
  asio::io_context io;
  auto a = loop.Submit(engine::Request{.prompt = std::vector<int32_t>(10, 3),
                                       .max_output_tokens = 2,
                                       .arrival = std::chrono::steady_clock::now()},
                       io.get_executor());
  auto b = loop.Submit(engine::Request{.prompt = std::vector<int32_t>(10, 4),
                                       .max_output_tokens = 2,
                                       .arrival = std::chrono::steady_clock::now()},
                       io.get_executor());
  loop.Abort(a->id());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(loop.stats().num_waiting, 1);
  loop.Stop();
  RequestStream::Progress p = Drain(io, b);
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->code, Errc::kUnavailable);
}

}  // namespace
}  // namespace brix::sim
