// FairShare: the gateway's admission when engines are saturated. Per model, at most
// max_in_flight_per_endpoint x (endpoints serving it) requests are past this point; the rest
// wait here and are let in by tenant::FairShareGate (virtual token counters per tenant, and the
// reserve a tenant over its share cannot take), so a tenant sending ten times more cannot
// starve the others. The cluster simulator runs the same gate (src/cluster/README.md).
//
//   Result<FairShare::Slot> slot =
//       co_await fair.Acquire({model, tenant, weight, prompt_tokens, max_tokens}, endpoints,
//                             deadline);
//   if (!slot) -> 503 (Unavailable: waited past the queue timeout) or the client left
//   ... forward ...
//   slot->set_usage(prompt_tokens, completion_tokens);  // then let it go out of scope
//
// Thread-safe: every worker shares one FairShare. A waiting request sleeps on a timer on its own
// worker's executor; the worker that frees a slot posts the wake-up there (workers run one
// thread each, so the post cannot overtake the wait).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/error.h"
#include "tenant/fair_queue.h"

namespace brix::gateway {

struct FairShareOptions {
  // Requests in flight per endpoint serving a model before new ones wait at the gateway; 0 = no
  // admission (requests go straight to routing and wait in the engines' own queues).
  int64_t max_in_flight_per_endpoint = 0;
  // Of those, how many per endpoint a tenant at or over its share may not take; -1 = an eighth
  // (at least 1).
  int64_t reserve_per_endpoint = -1;
  // Longest a request waits for a slot before a 503.
  std::chrono::milliseconds queue_timeout{30000};
};

class FairShare {
 public:
  using Clock = std::chrono::steady_clock;

  struct Ask {
    std::string model;
    std::string tenant;  // "" for an open gateway's anonymous callers
    double weight = 1;
    double prompt_tokens = 0;
    double max_tokens = 0;
  };

  // A slot held; freed (and the tenant's counter corrected to the usage) when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();
    void set_usage(double prompt_tokens, double output_tokens) {
      prompt_ = prompt_tokens;
      output_ = output_tokens;
    }
    Clock::duration waited() const { return waited_; }

   private:
    friend class FairShare;
    Slot(FairShare* owner, std::string model, uint64_t ticket, const Ask& ask,
         Clock::duration waited);
    FairShare* owner_;
    std::string model_;
    uint64_t ticket_;
    double prompt_;
    double output_;
    Clock::duration waited_;
  };

  explicit FairShare(FairShareOptions options);
  ~FairShare();

  // Waits for a slot among `endpoints` endpoints (at least 1 counted). Unavailable after the
  // queue timeout or `deadline`, whichever is first; Cancelled when the caller is cancelled.
  boost::asio::awaitable<Result<Slot>> Acquire(Ask ask, int64_t endpoints,
                                               Clock::time_point deadline);

  // Requests waiting, over all models (for /metrics).
  size_t waiting() const;

  struct Waiter;

 private:
  struct Model {
    explicit Model(tenant::FairShareGate::Options options) : gate(options) {}
    tenant::FairShareGate gate;
    std::unordered_map<uint64_t, std::shared_ptr<Waiter>> waiters;  // by ticket
  };
  double NowSeconds() const;
  // Lets in whom the gate admits and wakes them. mu_ held.
  void WakeLocked(Model& m);
  void Release(const std::string& model, uint64_t ticket, double prompt, double output);

  const FairShareOptions options_;
  const Clock::time_point origin_ = Clock::now();
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Model>, std::less<>> models_;  // guarded by mu_
};

}  // namespace brix::gateway
