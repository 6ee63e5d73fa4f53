// FairQueue: which waiting request goes next when the engines are saturated.
//
//   FairQueue queue;
//   uint64_t t = queue.Push("acme", /*weight=*/1);   // a request waits for an engine slot
//   ... a slot frees ...
//   std::optional<FairQueue::Next> next = queue.Pop();  // the request to start now
//   queue.Charge(next->tenant, prompt_tokens, max_tokens);  // its service, estimated at start
//   ... it ends ...
//   queue.Charge(next->tenant, 0, actual_output - max_tokens);  // corrected from usage
//
// The rule is the Virtual Token Counter (VTC) of Sheng et al., "Fairness in Serving Large Language
// Models" (OSDI 2024), weighted: every tenant has a counter of the service it has received,
// prompt tokens plus twice the output tokens (the paper's default costs: decoding a token costs
// about twice as much as prefilling one), divided by the tenant's weight. The waiting request of
// the tenant with the smallest counter goes first; within a tenant, first come first served. So
// a tenant sending ten times more than another does not get ten times the service: once its
// counter is ahead, the other's requests overtake its backlog, and over any busy period the
// counters of backlogged tenants stay within one request's cost of each other.
//
// Idle tenants do not bank credit: a tenant whose request arrives when it has none waiting has
// its counter lifted to the smallest counter among the tenants with requests waiting (or, when
// nobody waits, to the counter of the tenant served last), so coming back after a quiet hour buys
// no more than a fair share from then on.
//
// Not thread-safe (the gateway guards it with its own lock); pure and deterministic.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace brix::tenant {

class FairQueue {
 public:
  struct Costs {
    double prompt_token = 1;  // the paper's w_p
    double output_token = 2;  // the paper's w_q
  };
  struct Next {
    uint64_t ticket = 0;
    std::string tenant;
  };

  FairQueue() = default;
  explicit FairQueue(Costs costs) : costs_(costs) {}

  // A request of `tenant` starts waiting; returns its ticket. `weight` (> 0; the tenant's spec
  // weight) is remembered as the tenant's latest.
  uint64_t Push(std::string_view tenant, double weight);
  // A waiting request leaves without being served (its client went away, it timed out). False
  // if the ticket is not waiting.
  bool Remove(uint64_t ticket);
  // The request to serve next (see the header comment), removed from the queue; nullopt when
  // none waits. With `eligible`, only tenants for which it returns true are considered (a
  // tenant over its share when only reserved capacity is left).
  std::optional<Next> Pop(const std::function<bool(std::string_view tenant)>& eligible = {});
  // Adds service to the tenant's counter: (prompt * prompt_token + output * output_token) /
  // weight. Negative amounts correct an estimate; the counter never goes below zero.
  void Charge(std::string_view tenant, double prompt_tokens, double output_tokens);

  size_t size() const { return where_.size(); }
  bool empty() const { return where_.empty(); }
  size_t waiting(std::string_view tenant) const;
  double counter(std::string_view tenant) const;

 private:
  struct Tenant {
    double counter = 0;
    double weight = 1;
    std::deque<uint64_t> waiting;  // tickets, oldest first
  };
  // The smallest counter among tenants with requests waiting, if any.
  std::optional<double> MinWaitingCounter() const;

  Costs costs_;
  uint64_t next_ticket_ = 1;
  double last_served_counter_ = 0;
  std::map<std::string, Tenant, std::less<>> tenants_;
  std::unordered_map<uint64_t, std::string> where_;  // waiting ticket -> tenant
};

// ShareTracker: each tenant's requests in flight and its weighted share of the slots, for the
// reserve rule: when slots are capped, a tenant holding its share or more may not take the last
// few free slots, so a tenant under its share (one sending little) finds a slot at once instead
// of waiting for one of the flood's requests to finish. Active tenants, among whom the slots are
// shared, are those with requests in flight or one arrived within the window.
//
// Not thread-safe; pure (time passed in).
class ShareTracker {
 public:
  explicit ShareTracker(double active_window_s = 60) : window_s_(active_window_s) {}

  // A request of `tenant` arrived at now_s (the tenant is active until now_s + window).
  void Arrived(std::string_view tenant, double weight, double now_s);
  void Started(std::string_view tenant);
  void Finished(std::string_view tenant);

  int64_t in_flight(std::string_view tenant) const;
  // Whether the tenant's requests in flight are at least total_slots * its weight / the weights
  // of the active tenants.
  bool AtOrOverShare(std::string_view tenant, int64_t total_slots, double now_s) const;

 private:
  struct Tenant {
    int64_t in_flight = 0;
    double weight = 1;
    double last_arrival_s = 0;
  };
  bool Active(const Tenant& t, double now_s) const {
    return t.in_flight > 0 || t.last_arrival_s >= now_s - window_s_;
  }

  double window_s_;
  uint64_t arrivals_ = 0;
  std::map<std::string, Tenant, std::less<>> tenants_;
};

// FairShareGate: the admission in front of a set of engines, shared by the gateway (one per
// model) and the cluster simulator, so that what the simulator proves is what the gateway does.
//
//   FairShareGate gate({.slots = 32 * endpoints, .reserve = 4 * endpoints});
//   uint64_t t = gate.Arrive({"acme", weight, prompt_tokens, max_tokens}, now_s);
//   for (uint64_t started : gate.Admit(now_s)) ...   // these may go to an engine now
//   ... a started request ends ...
//   gate.Release(t, prompt_tokens, completion_tokens);  // then Admit again
//
// At most `slots` requests are started and not released. Waiting requests start in FairQueue
// order; a tenant at or over its share of the slots (ShareTracker) may not take the last
// `reserve` of them. Admit charges each request's estimate (prompt + max tokens) to its tenant's
// counter; Release corrects it to the real usage.
//
// Not thread-safe (the gateway holds a lock around it); pure.
class FairShareGate {
 public:
  struct Options {
    int64_t slots = 0;    // > 0
    int64_t reserve = 0;  // 0 .. slots
    double active_window_s = 60;
  };
  struct Request {
    std::string tenant;
    double weight = 1;
    double prompt_tokens = 0;
    double output_tokens = 0;  // the estimate: max tokens
  };

  explicit FairShareGate(Options options) : options_(options), shares_(options.active_window_s) {}

  // Slots and reserve change with the number of endpoints; requests over a smaller cap keep
  // their slots, and no new one starts until the count is under it.
  void Resize(int64_t slots, int64_t reserve) {
    options_.slots = slots;
    options_.reserve = reserve;
  }

  // A request starts waiting; returns its ticket. Call Admit() next: it may start at once.
  uint64_t Arrive(Request request, double now_s);
  // The waiting requests that may start now, in order; each now holds a slot.
  std::vector<uint64_t> Admit(double now_s);
  // A waiting request gives up (timeout, client gone). False if it is not waiting (it was
  // admitted meanwhile: Release it instead).
  bool Cancel(uint64_t ticket);
  // A started request ends with its real usage; frees its slot. Call Admit() next.
  void Release(uint64_t ticket, double prompt_tokens, double output_tokens);

  int64_t started() const { return started_count_; }
  size_t waiting() const { return queue_.size(); }
  double counter(std::string_view tenant) const { return queue_.counter(tenant); }

 private:
  Options options_;
  FairQueue queue_;
  ShareTracker shares_;
  std::unordered_map<uint64_t, Request> requests_;  // waiting and started, by ticket
  int64_t started_count_ = 0;
};

}  // namespace brix::tenant
