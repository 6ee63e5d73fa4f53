#include "tenant/fair_queue.h"

#include <algorithm>

namespace brix::tenant {

std::optional<double> FairQueue::MinWaitingCounter() const {
  std::optional<double> out;
  for (const auto& [name, t] : tenants_) {
    if (!t.waiting.empty() && (!out || t.counter < *out)) out = t.counter;
  }
  return out;
}

uint64_t FairQueue::Push(std::string_view tenant, double weight) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
  Tenant& t = it->second;
  t.weight = weight > 0 ? weight : 1;
  if (t.waiting.empty()) {
    // Lift before joining, so that idle time buys nothing (header comment).
    const double floor = MinWaitingCounter().value_or(last_served_counter_);
    t.counter = std::max(t.counter, floor);
  }
  const uint64_t ticket = next_ticket_++;
  t.waiting.push_back(ticket);
  where_.emplace(ticket, it->first);
  return ticket;
}

bool FairQueue::Remove(uint64_t ticket) {
  auto w = where_.find(ticket);
  if (w == where_.end()) return false;
  Tenant& t = tenants_.find(w->second)->second;
  t.waiting.erase(std::find(t.waiting.begin(), t.waiting.end(), ticket));
  where_.erase(w);
  return true;
}

std::optional<FairQueue::Next> FairQueue::Pop(
    const std::function<bool(std::string_view tenant)>& eligible) {
  Tenant* best = nullptr;
  const std::string* best_name = nullptr;
  for (auto& [name, t] : tenants_) {
    if (t.waiting.empty() || (eligible && !eligible(name))) continue;
    // Smallest counter; on a tie the older request (tickets grow with time).
    if (best == nullptr || t.counter < best->counter ||
        (t.counter == best->counter && t.waiting.front() < best->waiting.front())) {
      best = &t;
      best_name = &name;
    }
  }
  if (best == nullptr) return std::nullopt;
  Next next{best->waiting.front(), *best_name};
  best->waiting.pop_front();
  where_.erase(next.ticket);
  last_served_counter_ = best->counter;
  return next;
}

void FairQueue::Charge(std::string_view tenant, double prompt_tokens, double output_tokens) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
  Tenant& t = it->second;
  const double cost = prompt_tokens * costs_.prompt_token + output_tokens * costs_.output_token;
  t.counter = std::max(0.0, t.counter + cost / t.weight);
}

size_t FairQueue::waiting(std::string_view tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.waiting.size();
}

double FairQueue::counter(std::string_view tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.counter;
}

void ShareTracker::Arrived(std::string_view tenant, double weight, double now_s) {
  // Forget tenants that are neither in flight nor recent, now and then (bounded memory).
  if (++arrivals_ % 1024 == 0) {
    std::erase_if(tenants_, [&](const auto& kv) { return !Active(kv.second, now_s); });
  }
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
  it->second.weight = weight > 0 ? weight : 1;
  it->second.last_arrival_s = now_s;
}

void ShareTracker::Started(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
  ++it->second.in_flight;
}

void ShareTracker::Finished(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  if (it != tenants_.end() && it->second.in_flight > 0) --it->second.in_flight;
}

int64_t ShareTracker::in_flight(std::string_view tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.in_flight;
}

bool ShareTracker::AtOrOverShare(std::string_view tenant, int64_t total_slots, double now_s) const {
  auto me = tenants_.find(tenant);
  if (me == tenants_.end()) return false;
  double weights = 0;
  for (const auto& [name, t] : tenants_) {
    if (Active(t, now_s) || name == tenant) weights += t.weight;
  }
  const double share = static_cast<double>(total_slots) * me->second.weight / weights;
  return static_cast<double>(me->second.in_flight) >= share;
}

uint64_t FairShareGate::Arrive(Request request, double now_s) {
  shares_.Arrived(request.tenant, request.weight, now_s);
  const uint64_t ticket = queue_.Push(request.tenant, request.weight);
  requests_.emplace(ticket, std::move(request));
  return ticket;
}

std::vector<uint64_t> FairShareGate::Admit(double now_s) {
  std::vector<uint64_t> out;
  auto room_for = [&](std::string_view tenant) {
    const bool over = shares_.AtOrOverShare(tenant, options_.slots, now_s);
    return started_count_ < options_.slots - (over ? options_.reserve : 0);
  };
  while (!queue_.empty() && started_count_ < options_.slots) {
    std::optional<FairQueue::Next> next = queue_.Pop(room_for);
    if (!next) break;
    const Request& r = requests_.at(next->ticket);
    queue_.Charge(r.tenant, r.prompt_tokens, r.output_tokens);
    shares_.Started(r.tenant);
    ++started_count_;
    out.push_back(next->ticket);
  }
  return out;
}

bool FairShareGate::Cancel(uint64_t ticket) {
  if (!queue_.Remove(ticket)) return false;
  requests_.erase(ticket);
  return true;
}

void FairShareGate::Release(uint64_t ticket, double prompt_tokens, double output_tokens) {
  auto it = requests_.find(ticket);
  if (it == requests_.end()) return;
  const Request& r = it->second;
  queue_.Charge(r.tenant, prompt_tokens - r.prompt_tokens, output_tokens - r.output_tokens);
  shares_.Finished(r.tenant);
  --started_count_;
  requests_.erase(it);
}

}  // namespace brix::tenant
