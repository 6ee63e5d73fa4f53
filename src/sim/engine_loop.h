// EngineLoop: runs one engine::Engine on its own thread against the real clock, and hands each
// request's progress to the coroutine that serves it.
//
//   EngineLoop loop(std::move(engine), observer);
//   std::shared_ptr<RequestStream> s = loop.Submit(std::move(request), co_await
//   this_coro::executor); for (;;) {
//     co_await s->Wait();                    // something new (or already finished)
//     RequestStream::Progress p = s->Read();  // output tokens so far, finish, error
//     ...
//   }
//
// The loop thread owns the engine. A step's outputs are computed when it starts and published
// when the step's calibrated duration has passed (steady_timer to step.end), which is when a real
// engine would return them. The next step starts at the end of the previous one (or at once when
// the engine was idle), so per-step timer lateness does not accumulate. With no work the thread
// sleeps in its io_context: an idle engine costs no CPU.
//
// Threading: Submit, Abort, the fault setters and stats() are safe from any thread. A
// RequestStream is read by one coroutine at a time.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"

namespace brix::sim {

class EngineLoop;

// One request's progress, written by the loop thread and read by the request's coroutine.
class RequestStream {
 public:
  struct Progress {
    int32_t output_tokens = 0;  // visible so far
    std::optional<engine::FinishedRequest> finished;
    std::optional<Error> error;  // the engine refused the request, or the loop stopped
  };

  RequestStream(engine::RequestId id, boost::asio::any_io_executor executor);

  // The engine's id of the request (for EngineLoop::Abort).
  engine::RequestId id() const { return id_; }

  // Completes when there is progress not yet Read() (at once if there is). Throws
  // system_error(operation_aborted) when the awaiting coroutine is cancelled.
  boost::asio::awaitable<void> Wait();

  // The progress so far.
  Progress Read();

 private:
  friend class EngineLoop;
  void Publish(int32_t output_tokens, const engine::FinishedRequest* finished, const Error* error);

  const engine::RequestId id_;
  std::mutex mu_;
  Progress progress_;  // guarded by mu_
  // Capacity 1: a pending wake-up already covers any later progress.
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> wake_;
};

class EngineLoop {
 public:
  // What a published step did, for metrics: the step, and per token output the time to first
  // token (first tokens) or the inter-token latency (later tokens), in seconds, as vLLM's
  // IterationStats samples them at the step's end.
  struct StepReport {
    const engine::StepResult* step = nullptr;
    std::vector<double> ttft_seconds;
    std::vector<double> itl_seconds;
  };
  // Called on the loop thread when a step's outputs are published (at step.end), before the
  // request streams hear of them.
  using StepObserver = std::function<void(const StepReport&)>;

  EngineLoop(engine::Engine engine, StepObserver observer);
  // Stop()s.
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Queues `request` (its id is set here) and returns its stream; `executor` is the reading
  // coroutine's. The engine's refusal (e.g. a prompt too long) arrives as the stream's error.
  std::shared_ptr<RequestStream> Submit(engine::Request request,
                                        boost::asio::any_io_executor executor);

  // Drops a request that has not finished (its client went away). A no-op for unknown ids.
  void Abort(engine::RequestId id);

  // Faults. Slowdown multiplies step times; a hung engine schedules no step until un-hung (its
  // requests wait, as behind a stuck GPU); the KV capacity override resizes the cache (0 restores
  // the size the engine started with).
  void SetSlowdown(double factor);
  void SetHang(bool hang);
  void SetKvCapacity(int64_t num_blocks);

  // The engine's counters and gauges as of the last published step.
  engine::Stats stats() const;

  // Fails every unfinished request with Unavailable and joins the thread. Idempotent.
  void Stop();

 private:
  struct Live {
    std::shared_ptr<RequestStream> stream;
    base::TimePoint arrival;
    base::TimePoint last_token;
  };

  // Loop thread only.
  void MaybeStep();
  void Publish();
  void RefreshStats();

  engine::Engine engine_;
  const int64_t initial_blocks_;
  StepObserver observer_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  std::atomic<uint64_t> next_id_{1};

  // Loop thread only.
  std::unordered_map<engine::RequestId, Live> live_;
  bool stepping_ = false;
  bool hang_ = false;
  engine::StepResult pending_;  // the running step's outputs, published at its end
  StepReport report_;

  mutable std::mutex stats_mu_;
  engine::Stats stats_;  // guarded by stats_mu_

  std::thread thread_;
  bool stopped_ = false;  // controlling thread only
};

}  // namespace brix::sim
