// Drives an Engine with a random sequence of Add / Abort / Step / RunUntil / capacity and
// slowdown changes decoded from the input, and checks after every operation that block
// accounting holds (Engine::CheckInvariants) and that no request is lost: every added request
// is eventually reported finished exactly once (by a step, RunUntil, or Abort).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <vector>

#include "base/check.h"
#include "engine/engine.h"

namespace {

using brix::engine::Engine;
using brix::engine::EngineConfig;
using brix::engine::FinishedRequest;
using brix::engine::Profile;
using brix::engine::RequestId;
using brix::engine::TimePoint;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint32_t Next(uint32_t bound) {  // in [0, bound)
    uint32_t v = 0;
    for (int i = 0; i < 2 && pos_ < size_; ++i) v = (v << 8) | data_[pos_++];
    return bound == 0 ? 0 : v % bound;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

const Profile& TheProfile() {
  static const Profile* profile = [] {
    auto p = brix::engine::LoadProfile(BRIX_ENGINE_PROFILES_DIR, "h100/llama-3.2-1b");
    BRIX_CHECK(p.has_value()) << p.error().ToString();
    return new Profile(*p);
  }();
  return *profile;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  EngineConfig config;
  config.max_num_batched_tokens = 16 + static_cast<int32_t>(in.Next(600));
  config.max_num_seqs = 1 + static_cast<int32_t>(in.Next(8));
  config.block_size = 16;
  config.max_model_len = 64 + static_cast<int32_t>(in.Next(400));
  config.num_gpu_blocks_override = (config.max_model_len + 15) / 16 + 1 + in.Next(60);
  config.enable_prefix_caching = in.Next(4) != 0;
  config.enable_lora = in.Next(2) != 0;
  config.max_loras = 1 + static_cast<int32_t>(in.Next(3));
  auto created = Engine::Create(TheProfile(), config);
  BRIX_CHECK(created.has_value()) << created.error().ToString();
  Engine engine = std::move(*created);

  TimePoint now{std::chrono::hours(1)};
  std::set<RequestId> live;
  RequestId next_id = 1;
  auto finished = [&](const FinishedRequest& f) {
    // Ids may be reused once finished, so "finished twice" shows up as "not live".
    BRIX_CHECK(live.erase(f.id) == 1) << "finished twice or never added: " << f.id;
    BRIX_CHECK(f.output_tokens >= 0 && f.first_token >= f.arrival && f.finished >= f.last_token);
  };

  for (int ops = 0; !in.empty() && ops < 400; ++ops) {
    switch (in.Next(8)) {
      case 0:
      case 1: {  // Add: prompts from a small alphabet so prefixes repeat
        std::vector<int32_t> prompt(1 + in.Next(config.max_model_len + 8));
        const uint32_t alphabet = 1 + in.Next(4);
        for (auto& t : prompt) t = static_cast<int32_t>(in.Next(alphabet));
        std::string lora;
        if (config.enable_lora && in.Next(2)) lora = "a" + std::to_string(in.Next(4));
        const RequestId id = in.Next(5) == 0 && next_id > 1 ? 1 + in.Next(next_id - 1) : next_id;
        auto added = engine.Add({.id = id,
                                 .prompt = std::move(prompt),
                                 .max_output_tokens = static_cast<int32_t>(1 + in.Next(300)),
                                 .output_tokens = static_cast<int32_t>(in.Next(300)),
                                 .lora = lora,
                                 .arrival = now});
        if (added) {
          BRIX_CHECK(live.insert(id).second);
          if (id == next_id) ++next_id;
        }
        break;
      }
      case 2: {  // Abort a random (maybe unknown) id
        const RequestId id = 1 + in.Next(next_id + 1);
        auto aborted = engine.Abort(id, now);
        BRIX_CHECK(aborted.has_value() == live.contains(id)) << id;
        if (aborted) finished(*aborted);
        break;
      }
      case 3:
      case 4:
      case 5: {
        const auto& step = engine.Step(now);
        BRIX_CHECK(step.end >= step.start);
        BRIX_CHECK(step.num_scheduled_tokens <= config.max_num_batched_tokens);
        for (const auto& f : step.finished) finished(f);
        now = step.end;
        break;
      }
      case 6: {
        const auto& run = engine.RunUntil(now, now + std::chrono::milliseconds(in.Next(2000)));
        for (const auto& f : run.finished) finished(f);
        now = run.end;
        break;
      }
      case 7:
        if (in.Next(2)) {
          engine.SetKvCapacity(2 + in.Next(80));
        } else {
          engine.SetSlowdown(0.5 + in.Next(40) / 10.0);
        }
        break;
    }
    engine.CheckInvariants();
    const auto stats = engine.GetStats();
    BRIX_CHECK(stats.kv_cache_usage >= 0 && stats.kv_cache_usage <= 1);
    BRIX_CHECK(static_cast<size_t>(stats.num_running + stats.num_waiting) == live.size());
  }
  // Drain: everything still live finishes (or is aborted by the engine because it no longer fits).
  engine.SetKvCapacity(config.num_gpu_blocks_override);
  for (int guard = 0; engine.HasWork(); ++guard) {
    BRIX_CHECK(guard < 10'000'000) << "engine does not drain";
    const auto& run = engine.RunUntil(now, TimePoint::max());
    for (const auto& f : run.finished) finished(f);
    now = run.end;
  }
  engine.CheckInvariants();
  BRIX_CHECK(live.empty()) << live.size() << " requests lost";
  BRIX_CHECK(engine.GetStats().kv_cache_usage == 0);
  return 0;
}
