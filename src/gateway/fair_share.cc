#include "gateway/fair_share.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace brix::gateway {

namespace asio = boost::asio;

struct FairShare::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  bool admitted = false;  // guarded by FairShare::mu_
};

FairShare::Slot::Slot(FairShare* owner, std::string model, uint64_t ticket, const Ask& ask,
                      Clock::duration waited)
    : owner_(owner),
      model_(std::move(model)),
      ticket_(ticket),
      prompt_(ask.prompt_tokens),
      output_(ask.max_tokens),
      waited_(waited) {}

FairShare::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      model_(std::move(other.model_)),
      ticket_(other.ticket_),
      prompt_(other.prompt_),
      output_(other.output_),
      waited_(other.waited_) {}

FairShare::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release(model_, ticket_, prompt_, output_);
}

FairShare::FairShare(FairShareOptions options) : options_(options) {}
FairShare::~FairShare() = default;

double FairShare::NowSeconds() const {
  return std::chrono::duration<double>(Clock::now() - origin_).count();
}

void FairShare::WakeLocked(Model& m) {
  for (uint64_t ticket : m.gate.Admit(NowSeconds())) {
    auto it = m.waiters.find(ticket);
    if (it == m.waiters.end()) continue;
    std::shared_ptr<Waiter> w = std::move(it->second);
    m.waiters.erase(it);
    w->admitted = true;
    // The timer belongs to the waiter's worker: cancel it there.
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

void FairShare::Release(const std::string& model, uint64_t ticket, double prompt, double output) {
  std::lock_guard lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return;
  it->second->gate.Release(ticket, prompt, output);
  WakeLocked(*it->second);
}

size_t FairShare::waiting() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [name, m] : models_) n += m->gate.waiting();
  return n;
}

asio::awaitable<Result<FairShare::Slot>> FairShare::Acquire(Ask ask, int64_t endpoints,
                                                            Clock::time_point deadline) {
  const Clock::time_point start = Clock::now();
  const int64_t n = std::max<int64_t>(endpoints, 1);
  const int64_t slots = options_.max_in_flight_per_endpoint * n;
  const int64_t reserve =
      (options_.reserve_per_endpoint >= 0
           ? std::min(options_.reserve_per_endpoint, options_.max_in_flight_per_endpoint)
           : std::max<int64_t>(1, options_.max_in_flight_per_endpoint / 8)) *
      n;
  auto w = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  uint64_t ticket = 0;
  Model* model = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = models_.find(ask.model);
    if (it == models_.end()) {
      it = models_
               .emplace(ask.model, std::make_unique<Model>(tenant::FairShareGate::Options{
                                       .slots = slots, .reserve = reserve}))
               .first;
    }
    model = it->second.get();
    model->gate.Resize(slots, reserve);
    ticket = model->gate.Arrive({ask.tenant, ask.weight, ask.prompt_tokens, ask.max_tokens},
                                NowSeconds());
    model->waiters.emplace(ticket, w);
    WakeLocked(*model);
    if (w->admitted) co_return Slot(this, ask.model, ticket, ask, Clock::now() - start);
  }
  w->timer.expires_at(std::min(deadline, start + options_.queue_timeout));
  auto [ec] = co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  std::lock_guard lock(mu_);
  if (w->admitted) co_return Slot(this, ask.model, ticket, ask, Clock::now() - start);
  // Still waiting: leave the queue (models_ entries are never erased, so `model` is valid).
  model->gate.Cancel(ticket);
  model->waiters.erase(ticket);
  if (!ec) {
    co_return Unavailable(fmt::format(
        "no slot for model {} within {} ms: its engines are saturated", ask.model,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()));
  }
  co_return Error{Errc::kCancelled, "the client left while waiting for a slot"};
}

}  // namespace brix::gateway
