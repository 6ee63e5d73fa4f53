// A workload: who sends what, and when. Produced from a public trace (trace.h) or generated
// (synthetic.h); replayed by `brix bench` against real servers and, later, by the virtual-time
// cluster simulator. Pure data, no I/O.
//
// Every workload is a list of sessions. A session is one conversation: its first turn arrives at
// `start_s`; each later turn is sent `think_s` after the answer to the previous one ended, with
// the conversation so far (earlier prompts and the answers actually received) in front of it. A
// trace request is a session of one turn.
//
// Prompt text is described, not stored: a turn's new message is a list of segments, each naming
// deterministic text (PromptText renders it) by a key and a token count. Two requests whose
// segments share keys share a token prefix at the engine, which is how a trace's prefix-cache
// behaviour (Mooncake's hash_ids) and synthetic shared-prefix groups reach a real server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace brix::workload {

// Keys of different origins never collide: the top byte says where a key comes from.
enum class KeySpace : uint8_t {
  kTraceBlock = 1,    // a trace's prefix-block id (Mooncake hash_ids)
  kSharedPrefix = 2,  // a synthetic shared-prefix group
  kUnique = 3,        // text used once (a request's own suffix, a trace without prefix info)
};

constexpr uint64_t MakeKey(KeySpace space, uint64_t id) {
  return (static_cast<uint64_t>(space) << 56) | (id & ((uint64_t{1} << 56) - 1));
}

// `tokens` tokens of the text named by `key`. Taking fewer tokens of a key gives a prefix of the
// text of more tokens of the same key.
struct Segment {
  uint64_t key = 0;
  int64_t tokens = 0;

  friend bool operator==(const Segment&, const Segment&) = default;
};

struct Turn {
  std::vector<Segment> prompt;  // the new user message of this turn
  int64_t output_tokens = 1;    // asked for with max_tokens (and ignore_eos)

  int64_t prompt_tokens() const {
    int64_t total = 0;
    for (const Segment& s : prompt) total += s.tokens;
    return total;
  }
};

struct Session {
  uint64_t id = 0;     // unique in the workload, in arrival order
  double start_s = 0;  // arrival of the first turn, seconds after the workload starts
  double think_s = 0;  // from the end of an answer to the next turn
  std::vector<Turn> turns;
  // Who sends it, for per-tenant fairness in the cluster simulator; empty: one anonymous tenant.
  std::string tenant;
};

struct Workload {
  std::string description;        // e.g. "mooncake trace traces/x.jsonl (1200 requests)"
  std::vector<Session> sessions;  // by start_s

  size_t turn_count() const {
    size_t n = 0;
    for (const Session& s : sessions) n += s.turns.size();
    return n;
  }
};

// The sessions starting in [from_s, from_s + duration_s), shifted to start at 0 (duration_s <= 0:
// no end). Applied before Speed().
Workload Window(Workload workload, double from_s, double duration_s);

// Arrivals and think times divided by `factor` (2 = twice as fast). factor must be > 0.
Workload Speed(Workload workload, double factor);

// At most `count` sessions, the earliest.
Workload Limit(Workload workload, size_t count);

// The one rule for sessions that share a start time. Traces are quantised (Mooncake's timestamps
// come in 3-second ticks, 10-16 requests to a tick), and "at the same instant" has no order over
// real connections: smaller bodies arrive and are tokenised first, so a real replay sends the
// shorter prompts first while the simulator keeps file order. SpreadTies makes the order and the
// gaps explicit for both: the k sessions sharing a start time t get t + i * tick / k (i = 0..k-1,
// file order), where tick is the smallest gap between distinct start times (the trace's
// resolution). A workload without ties, or with one distinct start time, is returned unchanged.
Workload SpreadTies(Workload workload);

}  // namespace brix::workload
