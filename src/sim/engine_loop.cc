#include "sim/engine_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "base/check.h"

namespace brix::sim {

namespace asio = boost::asio;

RequestStream::RequestStream(engine::RequestId id, asio::any_io_executor executor)
    : id_(id), wake_(std::move(executor), 1) {}

asio::awaitable<void> RequestStream::Wait() { co_await wake_.async_receive(asio::use_awaitable); }

RequestStream::Progress RequestStream::Read() {
  std::lock_guard lock(mu_);
  return progress_;
}

void RequestStream::Publish(int32_t output_tokens, const engine::FinishedRequest* finished,
                            const Error* error) {
  {
    std::lock_guard lock(mu_);
    progress_.output_tokens = output_tokens;
    if (finished != nullptr) progress_.finished = *finished;
    if (error != nullptr) progress_.error = *error;
  }
  // A full channel means a wake-up is pending already; it covers this progress too.
  wake_.try_send(boost::system::error_code{});
}

namespace {
base::TimePoint Now() { return std::chrono::steady_clock::now(); }
}  // namespace

EngineLoop::EngineLoop(engine::Engine engine, StepObserver observer)
    : engine_(std::move(engine)),
      initial_blocks_(engine_.GetStats().num_gpu_blocks),
      observer_(std::move(observer)),
      timer_(io_) {
  RefreshStats();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

EngineLoop::~EngineLoop() { Stop(); }

void EngineLoop::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::post(io_, [this] {
    timer_.cancel();
    const Error gone = Unavailable("the engine is shutting down");
    for (auto& [id, live] : live_) live.stream->Publish(0, nullptr, &gone);
    live_.clear();
    io_.stop();
  });
  thread_.join();
}

std::shared_ptr<RequestStream> EngineLoop::Submit(engine::Request request,
                                                  asio::any_io_executor executor) {
  request.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto stream = std::make_shared<RequestStream>(request.id, std::move(executor));
  asio::post(io_, [this, stream, request = std::move(request)]() mutable {
    const engine::RequestId id = request.id;
    const base::TimePoint arrival = request.arrival;
    if (Result<void> added = engine_.Add(std::move(request)); !added) {
      const Error error = added.error();
      stream->Publish(0, nullptr, &error);
      return;
    }
    live_.emplace(id, Live{.stream = stream, .arrival = arrival, .last_token = arrival});
    RefreshStats();
    MaybeStep();
  });
  return stream;
}

void EngineLoop::Abort(engine::RequestId id) {
  asio::post(io_, [this, id] {
    if (live_.erase(id) == 0) return;
    // A request in the running step may already be gone from the engine (finished at this
    // step's end); then there is nothing to abort.
    (void)engine_.Abort(id, std::max(Now(), engine_.busy_until()));
    RefreshStats();
  });
}

void EngineLoop::SetSlowdown(double factor) {
  asio::post(io_, [this, factor] { engine_.SetSlowdown(factor); });
}

void EngineLoop::SetHang(bool hang) {
  asio::post(io_, [this, hang] {
    hang_ = hang;
    MaybeStep();
  });
}

void EngineLoop::SetKvCapacity(int64_t num_blocks) {
  asio::post(io_, [this, num_blocks] {
    engine_.SetKvCapacity(num_blocks > 0 ? num_blocks : initial_blocks_);
    RefreshStats();
    MaybeStep();
  });
}

engine::Stats EngineLoop::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void EngineLoop::RefreshStats() {
  engine::Stats s = engine_.GetStats();
  std::lock_guard lock(stats_mu_);
  stats_ = std::move(s);
}

void EngineLoop::MaybeStep() {
  if (stepping_ || hang_ || !engine_.HasWork()) return;
  const base::TimePoint start = std::max(Now(), engine_.busy_until());
  const engine::StepResult& step = engine_.Step(start);
  if (step.num_scheduled_tokens == 0 && step.finished.empty()) {
    // Nothing could run (e.g. every waiting request needs an adapter slot that is busy): wait
    // for the next Submit, Abort or fault change instead of spinning.
    RefreshStats();
    return;
  }
  pending_ = step;
  stepping_ = true;
  timer_.expires_at(std::chrono::time_point_cast<std::chrono::steady_clock::duration>(step.end));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // Stop()
    Publish();
    stepping_ = false;
    MaybeStep();
  });
}

void EngineLoop::Publish() {
  RefreshStats();
  using Seconds = std::chrono::duration<double>;
  report_.step = &pending_;
  report_.ttft_seconds.clear();
  report_.itl_seconds.clear();
  for (const engine::TokenOutput& t : pending_.tokens) {
    auto it = live_.find(t.id);
    if (it == live_.end()) continue;  // aborted while the step ran
    Live& live = it->second;
    if (t.num_output_tokens == 1) {
      report_.ttft_seconds.push_back(Seconds(pending_.end - live.arrival).count());
    } else {
      report_.itl_seconds.push_back(Seconds(pending_.end - live.last_token).count());
    }
    live.last_token = pending_.end;
  }
  if (observer_) observer_(report_);
  // A finished request's last token is in `tokens` too; its FinishedRequest (which may also
  // be a request the engine gave up on with no token at all) is published in the second loop.
  for (const engine::TokenOutput& t : pending_.tokens) {
    if (t.finished) continue;
    auto it = live_.find(t.id);
    if (it == live_.end()) continue;
    it->second.stream->Publish(t.num_output_tokens, nullptr, nullptr);
  }
  for (const engine::FinishedRequest& fr : pending_.finished) {
    auto it = live_.find(fr.id);
    if (it == live_.end()) continue;
    it->second.stream->Publish(fr.output_tokens, &fr, nullptr);
    live_.erase(it);
  }
}

}  // namespace brix::sim
