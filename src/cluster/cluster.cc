#include "cluster/cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <queue>
#include <random>
#include <unordered_map>

#include "base/check.h"
#include "router/router.h"
#include "tenant/fair_queue.h"

namespace brix::cluster {

namespace {

using base::Duration;
using base::TimePoint;

// Virtual time starts here (any fixed point will do; engines only see differences).
const TimePoint kOrigin = TimePoint(std::chrono::hours(1));

double Seconds(TimePoint t) { return std::chrono::duration<double>(t - kOrigin).count(); }

TimePoint At(double seconds) {
  return kOrigin + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

struct Event {
  enum class Kind { kArrival, kFirstToken, kComplete, kScrape };
  TimePoint t;
  uint64_t seq = 0;  // insertion order: ties resolve the same way every run
  Kind kind = Kind::kArrival;
  size_t session = 0;  // index into the workload (arrivals)
  size_t turn = 0;
  size_t replica = 0;             // completions and first tokens
  engine::RequestId request = 0;  // first tokens
  engine::FinishedRequest finished;

  bool operator>(const Event& other) const { return t != other.t ? t > other.t : seq > other.seq; }
};

// The engine's true prefix cache, for the oracle policy.
class EngineCacheProbe final : public router::CacheProbe {
 public:
  explicit EngineCacheProbe(const engine::Engine* engine) : engine_(engine) {}
  int64_t CachedPrefixTokens(std::span<const uint32_t> token_ids) const override {
    scratch_.assign(token_ids.begin(), token_ids.end());
    return engine_->CachedPrefixTokens(scratch_);
  }

 private:
  const engine::Engine* engine_;
  mutable std::vector<int32_t> scratch_;
};

// The engine's step times, for policies that estimate time to first token.
class ProfileLatency final : public router::LatencyModel {
 public:
  explicit ProfileLatency(const engine::Engine* engine) : engine_(engine) {}
  double PrefillSeconds(int64_t new_tokens, int64_t cached_tokens) const override {
    // One batch of `new_tokens` split into steps of the token budget, each attending to what
    // came before it.
    const int64_t budget = StepTokenBudget();
    double ms = 0;
    for (int64_t done = 0; done < new_tokens; done += budget) {
      const engine::PrefillChunk chunk{
          static_cast<int32_t>(std::min(budget, new_tokens - done)),
          static_cast<int32_t>(std::min<int64_t>(INT32_MAX, cached_tokens + done))};
      ms += engine_->step_time_model().StepMillis({.prefills = std::span(&chunk, 1)});
    }
    return ms / 1e3;
  }
  double DecodeStepSeconds(int64_t batch, int64_t context_tokens) const override {
    if (batch <= 0) return 0;
    return engine_->step_time_model().StepMillis(
               {.num_decodes = static_cast<int32_t>(std::min<int64_t>(batch, INT32_MAX)),
                .decode_context_sum = std::max(batch, context_tokens)}) /
           1e3;
  }
  int64_t StepTokenBudget() const override { return engine_->config().max_num_batched_tokens; }

 private:
  const engine::Engine* engine_;
};

struct Replica {
  std::string name;
  std::optional<engine::Engine> engine;
  std::unique_ptr<EngineCacheProbe> cache;
  std::unique_ptr<ProfileLatency> latency;
  int64_t in_flight = 0;
  int64_t in_flight_tokens = 0;  // EndpointView's fields
  int64_t awaiting_first_token = 0;
  int64_t awaiting_prompt_tokens = 0;
  size_t requests = 0;
  std::optional<router::EngineMetrics> metrics;  // as of the last scrape
  TimePoint scraped_at;
  std::vector<std::string> models;
};

router::EngineMetrics Scrape(const engine::Engine& engine) {
  const engine::Stats s = engine.GetStats();
  router::EngineMetrics m;
  m.running = s.num_running;
  m.waiting = s.num_waiting;
  m.kv_cache_usage = s.kv_cache_usage;
  m.prefix_cache_queries = static_cast<double>(s.prefix_cache_queries);
  m.prefix_cache_hits = static_cast<double>(s.prefix_cache_hits);
  m.prompt_tokens = static_cast<double>(s.prompt_tokens);
  m.generation_tokens = static_cast<double>(s.generation_tokens);
  m.preemptions = static_cast<double>(s.num_preemptions);
  double finished = 0;
  for (int64_t n : s.requests_finished) finished += static_cast<double>(n);
  m.requests_finished = finished;
  return m;
}

}  // namespace

Result<ClusterResult> Simulate(const workload::Workload& workload, const workload::PromptText& text,
                               const ClusterConfig& config) {
  if (config.replicas.empty()) return InvalidArgument("the cluster needs at least one replica");
  if (config.scrape_interval <= Duration::zero()) {
    return InvalidArgument("scrape interval must be > 0");
  }
  if (config.max_in_flight_per_replica < 0) {
    return InvalidArgument("max_in_flight_per_replica must be >= 0");
  }
  if (config.queueing != "fair" && config.queueing != "fifo") {
    return InvalidArgument(
        fmt::format("queueing \"{}\": must be \"fair\" or \"fifo\"", config.queueing));
  }
  Result<std::unique_ptr<router::Policy>> policy = router::MakePolicy(config.policy);
  if (!policy) return policy.error();

  std::vector<Replica> replicas(config.replicas.size());
  for (size_t i = 0; i < replicas.size(); ++i) {
    const ReplicaSpec& spec = config.replicas[i];
    Result<engine::Engine> engine = engine::Engine::Create(spec.profile, spec.config);
    if (!engine) {
      return InvalidArgument(fmt::format("replica {}: {}", i, engine.error().message));
    }
    replicas[i].engine.emplace(std::move(*engine));
    replicas[i].cache = std::make_unique<EngineCacheProbe>(&*replicas[i].engine);
    replicas[i].latency = std::make_unique<ProfileLatency>(&*replicas[i].engine);
    replicas[i].name = spec.name.empty() ? fmt::format("replica-{}", i) : spec.name;
    replicas[i].models = {config.model};
  }

  // Records: one per turn, by session then turn.
  ClusterResult result;
  std::vector<size_t> first_record(workload.sessions.size());
  double min_think = -1;
  for (size_t i = 0; i < workload.sessions.size(); ++i) {
    const workload::Session& s = workload.sessions[i];
    first_record[i] = result.records.size();
    for (size_t t = 0; t < s.turns.size(); ++t) {
      report::RequestRecord r;
      r.session = s.id;
      r.turn = static_cast<int>(t);
      r.scheduled_s = s.start_s;
      r.input_tokens = s.turns[t].prompt_tokens();
      result.records.push_back(std::move(r));
    }
    if (s.turns.size() > 1) min_think = min_think < 0 ? s.think_s : std::min(min_think, s.think_s);
  }
  // How far engines may run ahead of the event queue (see cluster.h).
  const Duration horizon =
      min_think < 0
          ? std::chrono::hours(24 * 365)
          : std::max<Duration>(
                std::chrono::milliseconds(1),
                std::chrono::duration_cast<Duration>(std::chrono::duration<double>(min_think)));

  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  uint64_t seq = 0;
  auto push = [&](Event e) {
    e.seq = seq++;
    events.push(std::move(e));
  };
  for (size_t i = 0; i < workload.sessions.size(); ++i) {
    if (workload.sessions[i].turns.empty()) continue;
    Event e;
    e.kind = Event::Kind::kArrival;
    e.t = At(workload.sessions[i].start_s);
    e.session = i;
    push(std::move(e));
  }
  {
    Event scrape;
    scrape.kind = Event::Kind::kScrape;
    scrape.t = kOrigin;
    push(std::move(scrape));
  }

  std::mt19937_64 rng(config.seed);
  // The conversation so far per session (prompt and answer ids), kept while it has turns left.
  std::vector<std::vector<uint32_t>> history(workload.sessions.size());
  size_t arrivals_left = workload.turn_count();
  int64_t in_flight = 0;
  TimePoint clock = kOrigin;
  TimePoint last_completion = kOrigin;
  std::vector<router::EndpointView> views(replicas.size());
  // The gateway's admission queue (cluster.h): tickets -> (session, turn).
  const bool gated = config.max_in_flight_per_replica > 0;
  const bool fair = config.queueing == "fair";
  const int64_t slots = config.max_in_flight_per_replica;
  const int64_t reserve = config.reserve_per_replica >= 0
                              ? std::min(config.reserve_per_replica, slots)
                              : std::max<int64_t>(1, slots / 8);
  // In arrival order ("fifo") every request is one anonymous tenant's.
  auto tenant_of = [&](const workload::Session& s) { return fair ? s.tenant : std::string(); };
  std::optional<tenant::FairShareGate> gate;
  if (gated) {
    gate.emplace(
        tenant::FairShareGate::Options{.slots = slots * static_cast<int64_t>(replicas.size()),
                                       .reserve = reserve * static_cast<int64_t>(replicas.size())});
  }
  std::unordered_map<uint64_t, std::pair<size_t, size_t>> queued;  // ticket -> (session, turn)
  std::vector<uint64_t> ticket_of(result.records.size());          // by record
  // Per record: still counted in its replica's awaiting_* (routed, no first token yet).
  std::vector<bool> awaiting(result.records.size());
  auto settle_first_token = [&](Replica& replica, size_t index) {
    if (!awaiting[index]) return;
    awaiting[index] = false;
    --replica.awaiting_first_token;
    replica.awaiting_prompt_tokens -= result.records[index].input_tokens;
  };

  auto advance = [&](TimePoint deadline) {
    for (size_t i = 0; i < replicas.size(); ++i) {
      engine::Engine& engine = *replicas[i].engine;
      if (!engine.HasWork()) continue;
      const engine::RunResult& run =
          engine.RunUntil(std::max(engine.busy_until(), clock), deadline);
      for (const auto& [id, when] : run.first_tokens) {
        Event e;
        e.kind = Event::Kind::kFirstToken;
        e.t = when;
        e.replica = i;
        e.request = id;
        push(std::move(e));
      }
      for (const engine::FinishedRequest& f : run.finished) {
        Event e;
        e.kind = Event::Kind::kComplete;
        e.t = f.finished;
        e.replica = i;
        e.finished = f;
        push(std::move(e));
      }
    }
    clock = std::max(clock, deadline);
  };

  // Routes record (session, turn) and hands it to the chosen engine at `now`; its prompt ids are
  // already in history[session_index].
  std::vector<size_t> candidates;
  auto start = [&](size_t session_index, size_t turn_index, TimePoint now) {
    const workload::Session& session = workload.sessions[session_index];
    const workload::Turn& turn = session.turns[turn_index];
    const size_t index = first_record[session_index] + turn_index;
    report::RequestRecord& record = result.records[index];
    std::vector<uint32_t>& ids = history[session_index];
    candidates.resize(replicas.size());
    for (size_t i = 0; i < replicas.size(); ++i) candidates[i] = i;
    views.resize(candidates.size());
    for (size_t c = 0; c < candidates.size(); ++c) {
      const Replica& r = replicas[candidates[c]];
      router::EndpointView& v = views[c];
      v.name = r.name;
      v.address = r.name;
      v.in_flight = r.in_flight;
      v.in_flight_tokens = r.in_flight_tokens;
      v.awaiting_first_token = r.awaiting_first_token;
      v.awaiting_prompt_tokens = r.awaiting_prompt_tokens;
      v.cache = r.cache.get();
      v.latency = r.latency.get();
      v.metrics = r.metrics ? &*r.metrics : nullptr;
      v.metrics_age_s = std::chrono::duration<double>(now - r.scraped_at).count();
      v.models = r.models;
    }
    const std::string session_id = std::to_string(session.id);
    router::RouteRequest request;
    request.model = config.model;
    if ((*policy)->needs_tokens()) request.token_ids = ids;
    // A client keeping a conversation on one replica names it the way AIBrix's
    // session-affinity expects.
    request.header = [&](std::string_view name) -> std::optional<std::string_view> {
      if (name == "x-aibrix-session-key") return std::string_view(session_id);
      return std::nullopt;
    };
    request.random = rng();
    request.now_s = Seconds(now);
    Result<size_t> picked = router::Route(**policy, request, views);
    auto fail = [&](std::string why) {
      if (gated) gate->Release(ticket_of[index], 0, 0);  // dispatch's loop starts the next
      record.outcome = report::Outcome::kFailed;
      record.error = std::move(why);
      record.end_s = record.sent_s;
      arrivals_left -= session.turns.size() - turn_index - 1;  // the session ends here
    };
    if (!picked) {
      fail("routing: " + picked.error().message);
      return;
    }
    Replica& replica = replicas[candidates[*picked]];
    record.replica = replica.name;
    record.attempts = 1;
    engine::Request add;
    add.id = index;
    add.prompt.assign(ids.begin(), ids.end());
    add.max_output_tokens = static_cast<int32_t>(std::min<int64_t>(turn.output_tokens, INT32_MAX));
    add.output_tokens = 0;  // ignore_eos, as brix bench asks
    // The answer's ids, deterministic per request, so that the next turn repeats them.
    std::vector<uint32_t> answer;
    text.AppendIds({workload::MakeKey(workload::KeySpace::kUnique, (uint64_t{1} << 40) + index),
                    turn.output_tokens},
                   &answer);
    add.output_token_ids.assign(answer.begin(), answer.end());
    add.arrival = now;
    Result<void> added = replica.engine->Add(std::move(add));
    if (!added) {
      fail("engine: " + added.error().message);
      return;
    }
    ++replica.in_flight;
    replica.in_flight_tokens += record.input_tokens;
    ++replica.awaiting_first_token;
    replica.awaiting_prompt_tokens += record.input_tokens;
    awaiting[index] = true;
    ++replica.requests;
    ++in_flight;
    if (turn_index + 1 < session.turns.size()) {
      ids.insert(ids.end(), answer.begin(), answer.end());
    } else {
      std::vector<uint32_t>().swap(ids);
    }
  };
  // Starts the queued requests the gate lets in.
  auto dispatch = [&](TimePoint now) {
    for (;;) {
      const std::vector<uint64_t> started = gate->Admit(Seconds(now));
      if (started.empty()) break;
      for (uint64_t ticket : started) {
        auto it = queued.find(ticket);
        const auto [session_index, turn_index] = it->second;
        queued.erase(it);
        start(session_index, turn_index, now);
      }
    }
  };

  while (!events.empty()) {
    const TimePoint next = events.top().t;
    if (next > clock) advance(std::min(next, clock + horizon));
    if (events.top().t > clock) continue;  // engines moved on by the horizon only
    Event e = events.top();
    events.pop();
    switch (e.kind) {
      case Event::Kind::kScrape: {
        for (Replica& r : replicas) {
          r.metrics = Scrape(*r.engine);
          r.scraped_at = e.t;
        }
        if (arrivals_left > 0 || in_flight > 0) {
          Event again;
          again.kind = Event::Kind::kScrape;
          again.t = e.t + config.scrape_interval;
          push(std::move(again));
        }
        break;
      }
      case Event::Kind::kArrival: {
        --arrivals_left;
        const workload::Session& session = workload.sessions[e.session];
        const workload::Turn& turn = session.turns[e.turn];
        const size_t index = first_record[e.session] + e.turn;
        report::RequestRecord& record = result.records[index];
        record.scheduled_s = Seconds(e.t);
        record.sent_s = Seconds(e.t);
        std::vector<uint32_t>& ids = history[e.session];
        for (const workload::Segment& segment : turn.prompt) text.AppendIds(segment, &ids);
        record.input_tokens = static_cast<int64_t>(ids.size());

        if (gated) {
          const uint64_t ticket =
              gate->Arrive({tenant_of(session), 1, static_cast<double>(record.input_tokens),
                            static_cast<double>(turn.output_tokens)},
                           Seconds(e.t));
          queued.emplace(ticket, std::make_pair(e.session, e.turn));
          ticket_of[index] = ticket;
          dispatch(e.t);
        } else {
          start(e.session, e.turn, e.t);
        }
        break;
      }
      case Event::Kind::kFirstToken: {
        settle_first_token(replicas[e.replica], e.request);
        break;
      }
      case Event::Kind::kComplete: {
        Replica& replica = replicas[e.replica];
        --replica.in_flight;
        replica.in_flight_tokens -= result.records[e.finished.id].input_tokens;
        // A request that never produced a token still leaves the prefill queue here.
        settle_first_token(replica, e.finished.id);
        --in_flight;
        const engine::FinishedRequest& f = e.finished;
        report::RequestRecord& record = result.records[f.id];
        record.end_s = Seconds(f.finished);
        record.output_tokens = f.output_tokens;
        record.cached_tokens = f.cached_prompt_tokens;
        record.chunks = f.output_tokens;
        record.max_itl_s = std::chrono::duration<double>(f.max_inter_token_latency).count();
        if (f.output_tokens > 0) record.first_token_s = Seconds(f.first_token);
        last_completion = std::max(last_completion, f.finished);
        // Records are by session then turn: the session is the last one starting at or before
        // the record's index.
        const auto it =
            std::upper_bound(first_record.begin(), first_record.end(), static_cast<size_t>(f.id));
        const size_t session_index = static_cast<size_t>(it - first_record.begin()) - 1;
        const workload::Session& session = workload.sessions[session_index];
        const size_t turn = static_cast<size_t>(record.turn);
        if (gated) {
          // The slot is free (and the estimate charged at the start corrected): start whoever is
          // next.
          gate->Release(ticket_of[f.id], static_cast<double>(record.input_tokens),
                        static_cast<double>(f.output_tokens));
          dispatch(e.t);
        }
        if (f.reason == engine::FinishReason::kAbort) {
          record.outcome = report::Outcome::kFailed;
          record.error = "engine aborted the request (it cannot fit the KV cache)";
          arrivals_left -= session.turns.size() - turn - 1;  // the session ends here
          break;
        }
        record.outcome = report::Outcome::kOk;
        record.status = 200;
        if (f.output_tokens >= 2) {
          result.itl.Record(record.tpot_s(), static_cast<uint64_t>(f.output_tokens - 1));
        }
        if (turn + 1 < session.turns.size()) {
          Event next;
          next.kind = Event::Kind::kArrival;
          next.t = f.finished + std::chrono::duration_cast<Duration>(
                                    std::chrono::duration<double>(session.think_s));
          next.session = session_index;
          next.turn = turn + 1;
          push(std::move(next));
        }
        break;
      }
    }
  }

  for (const Replica& r : replicas) {
    // Every routed request has finished, so the loads the router saw are back to zero.
    BRIX_CHECK(r.in_flight == 0 && r.in_flight_tokens == 0 && r.awaiting_first_token == 0 &&
               r.awaiting_prompt_tokens == 0)
        << r.name << ": " << r.in_flight << " in flight, " << r.awaiting_first_token
        << " awaiting a first token";
    const engine::Stats s = r.engine->GetStats();
    ReplicaReport rep;
    rep.name = r.name;
    rep.requests = r.requests;
    rep.prefix_cache_queries = s.prefix_cache_queries;
    rep.prefix_cache_hits = s.prefix_cache_hits;
    rep.preemptions = s.num_preemptions;
    rep.steps = s.num_steps;
    result.replicas.push_back(std::move(rep));
  }
  if (!workload.sessions.empty()) {
    result.simulated_s =
        std::chrono::duration<double>(last_completion - At(workload.sessions.front().start_s))
            .count();
  }
  return result;
}

}  // namespace brix::cluster
