#include "gateway/fair_share.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace brix::gateway {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Clock = FairShare::Clock;

FairShare::Ask AskFor(std::string tenant, double max_tokens = 100) {
  FairShare::Ask a;
  a.model = "m";
  a.tenant = std::move(tenant);
  a.prompt_tokens = 10;
  a.max_tokens = max_tokens;
  return a;
}

// A request that takes a slot, records when it got it, and holds it until `release` is set.
struct Holder {
  std::string name;
  std::optional<FairShare::Slot> slot;
  std::optional<Error> error;
};

TEST(FairShareTest, WaitersAreLetInByFairShareAsSlotsFree) {
  asio::io_context io;
  FairShare fair({.max_in_flight_per_endpoint = 1,
                  .reserve_per_endpoint = 0,
                  .queue_timeout = milliseconds(5000)});
  std::vector<std::string> order;
  std::vector<Holder> holders(4);
  auto take = [&](size_t i, std::string tenant) -> asio::awaitable<void> {
    holders[i].name = tenant;
    Result<FairShare::Slot> s =
        co_await fair.Acquire(AskFor(tenant), 1, Clock::now() + std::chrono::seconds(10));
    if (s) {
      holders[i].slot.emplace(std::move(*s));
      order.push_back(tenant + std::to_string(i));
    } else {
      holders[i].error = s.error();
    }
  };
  // flood0 holds the only slot; flood1 and flood2 queue, then calm3.
  asio::co_spawn(io, take(0, "flood"), asio::detached);
  asio::co_spawn(io, take(1, "flood"), asio::detached);
  asio::co_spawn(io, take(2, "flood"), asio::detached);
  asio::co_spawn(io, take(3, "calm"), asio::detached);
  io.poll();
  ASSERT_EQ(order, std::vector<std::string>{"flood0"});
  EXPECT_EQ(fair.waiting(), 3u);
  // flood0 ends. Calm joined at flood's counter (no credit for arriving late), so the tie goes
  // to the older request, flood1; once flood1 is charged, calm overtakes flood2, which had
  // queued before it.
  holders[0].slot->set_usage(10, 100);
  holders[0].slot.reset();
  io.poll();
  EXPECT_EQ(order, (std::vector<std::string>{"flood0", "flood1"}));
  holders[1].slot.reset();
  io.poll();
  EXPECT_EQ(order, (std::vector<std::string>{"flood0", "flood1", "calm3"}));
  holders[3].slot.reset();
  io.poll();
  EXPECT_EQ(order, (std::vector<std::string>{"flood0", "flood1", "calm3", "flood2"}));
  holders[2].slot.reset();
  EXPECT_EQ(fair.waiting(), 0u);
}

TEST(FairShareTest, AWaitPastTheQueueTimeoutIsUnavailableAndLeavesTheQueue) {
  asio::io_context io;
  FairShare fair({.max_in_flight_per_endpoint = 1, .queue_timeout = milliseconds(50)});
  std::optional<FairShare::Slot> held;
  std::optional<Result<FairShare::Slot>> late;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Result<FairShare::Slot> first =
            co_await fair.Acquire(AskFor("a"), 1, Clock::now() + std::chrono::seconds(10));
        held.emplace(std::move(*first));
        late.emplace(
            co_await fair.Acquire(AskFor("a"), 1, Clock::now() + std::chrono::seconds(10)));
      },
      asio::detached);
  io.run_for(std::chrono::seconds(5));  // bounded; ends once the timeout fired
  ASSERT_TRUE(late.has_value());
  ASSERT_FALSE(*late);
  EXPECT_EQ(late->error().code, Errc::kUnavailable);
  EXPECT_EQ(fair.waiting(), 0u);
  // The slot frees normally afterwards and the next request gets it at once.
  held.reset();
  std::optional<Result<FairShare::Slot>> next;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        next.emplace(co_await fair.Acquire(AskFor("a"), 1, Clock::now() + std::chrono::seconds(1)));
      },
      asio::detached);
  io.restart();
  io.poll();
  ASSERT_TRUE(next.has_value());
  EXPECT_TRUE(*next);
}

TEST(FairShareTest, SlotsScaleWithEndpointsAndWakeUpsCrossThreads) {
  // Two workers (threads with their own io_context), 2 endpoints x 2 slots: 4 run at once; the
  // rest are woken by releases on the other worker.
  FairShare fair({.max_in_flight_per_endpoint = 2,
                  .reserve_per_endpoint = 0,
                  .queue_timeout = milliseconds(10000)});
  std::atomic<int> running{0}, max_running{0}, done{0};
  auto worker = [&](int requests) {
    asio::io_context io;
    for (int i = 0; i < requests; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            Result<FairShare::Slot> s =
                co_await fair.Acquire(AskFor("t"), 2, Clock::now() + std::chrono::seconds(20));
            if (!s) co_return;
            const int now = ++running;
            int seen = max_running.load();
            while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
            }
            asio::steady_timer hold(co_await asio::this_coro::executor, milliseconds(2));
            co_await hold.async_wait(asio::use_awaitable);
            --running;
            ++done;
          },
          asio::detached);
    }
    io.run_for(std::chrono::seconds(20));
  };
  std::thread a(worker, 20), b(worker, 20);
  a.join();
  b.join();
  EXPECT_EQ(done.load(), 40);
  EXPECT_LE(max_running.load(), 4);
  EXPECT_EQ(fair.waiting(), 0u);
}

}  // namespace
}  // namespace brix::gateway
