#include "engine/engine.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "engine/internal/block_pool.h"

namespace brix::engine {

using internal::BlockId;
using internal::BlockPool;
using internal::kNoBlock;

namespace {

// Parent of a request's first block: vLLM's NONE_HASH, fixed here so every engine agrees.
constexpr uint64_t kNoneHash = 0x9e3779b97f4a7c15ULL;

// Chained block hash (kv_cache_utils.py: hash_block_tokens): commits to the parent block's hash,
// this block's token ids and the extra keys (here the LoRA adapter; 0 for the base model).
uint64_t HashBlock(uint64_t parent, const int32_t* tokens, int32_t block_size, uint64_t extra) {
  return XXH3_64bits_withSeed(tokens, sizeof(int32_t) * static_cast<size_t>(block_size),
                              parent ^ (extra * 0xff51afd7ed558ccdULL));
}

// An output token id nobody else produces: negative (real vocabularies are not), a function of
// the request and position only, so that coalesced steps produce the same ids.
int32_t SyntheticToken(uint64_t id, int32_t position) {
  uint64_t x = id * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(position);
  x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ULL;
  return -1 - static_cast<int32_t>((x ^ (x >> 29)) & 0x3fffffff);
}

int32_t CeilDiv(int64_t a, int32_t b) { return static_cast<int32_t>((a + b - 1) / b); }

}  // namespace

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
  }
  return "abort";
}

struct Engine::Req {
  enum class State : uint8_t { kFree, kWaiting, kRunning };

  RequestId id = 0;
  State state = State::kFree;
  std::vector<int32_t> tokens;         // prompt, then outputs as they are produced
  std::vector<int32_t> given_outputs;  // Request::output_token_ids
  std::vector<uint64_t> hashes;        // one per full block of `tokens`
  std::vector<BlockId> blocks;         // the request's block table
  uint64_t extra_key = 0;              // LoRA adapter's hash, 0 = base model
  int32_t lora = -1;                   // index into lora_names_, -1 = base
  int32_t prompt_len = 0;
  int32_t num_computed = 0;       // tokens whose KV is in `blocks`
  int32_t num_cached_blocks = 0;  // leading blocks already registered in the prefix index
  int32_t max_output = 0;
  int32_t natural_output = 0;         // <= 0: none
  int32_t cached_prompt_tokens = -1;  // prefix hit at first admission
  int32_t num_preemptions = 0;
  TimePoint arrival, first_scheduled, first_token, last_token;
  Duration max_itl = Duration::zero();
  bool scheduled_once = false;

  int32_t num_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t num_output() const { return num_tokens() - prompt_len; }
};

Engine::Engine(const Profile& profile, const EngineConfig& config, int32_t max_model_len,
               int64_t num_blocks)
    : profile_(profile),
      config_(config),
      step_time_(std::make_unique<StepTimeModel>(profile)),
      pool_(std::make_unique<BlockPool>(static_cast<int32_t>(num_blocks))),
      max_model_len_(max_model_len) {}

Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

Result<Engine> Engine::Create(const Profile& profile, const EngineConfig& config) {
  std::vector<std::string> problems;
  const EngineConfig& c = config;
  if (c.max_num_batched_tokens < 1) problems.push_back("max_num_batched_tokens must be >= 1");
  if (c.max_num_seqs < 1) problems.push_back("max_num_seqs must be >= 1");
  if (c.block_size != 8 && c.block_size != 16 && c.block_size != 32 && c.block_size != 64 &&
      c.block_size != 128) {
    problems.push_back("block_size must be one of 8, 16, 32, 64, 128");
  }
  if (!(c.gpu_memory_utilization > 0 && c.gpu_memory_utilization <= 1)) {
    problems.push_back("gpu_memory_utilization must be in (0, 1]");
  }
  if (c.max_model_len < 0 || c.max_model_len > profile.max_model_len) {
    problems.push_back("max_model_len must be in [0, " + std::to_string(profile.max_model_len) +
                       "] (0 = the model's)");
  }
  if (c.num_gpu_blocks_override < 0 || c.num_gpu_blocks_override > (int64_t{1} << 30)) {
    problems.push_back("num_gpu_blocks_override must be in [0, 2^30]");
  }
  if (c.enable_lora && c.max_loras < 1) problems.push_back("max_loras must be >= 1");
  if (c.lora_load_time < Duration::zero()) problems.push_back("lora_load_time must be >= 0");
  if (!(c.lora_step_penalty >= 0)) problems.push_back("lora_step_penalty must be >= 0");
  if (c.step_overhead < Duration::zero()) problems.push_back("step_overhead must be >= 0");
  if (!(c.slowdown > 0) || !std::isfinite(c.slowdown)) problems.push_back("slowdown must be > 0");
  if (profile.prefill.size() < 2 || profile.linear.size() < 2 || profile.kv_bytes_per_token <= 0) {
    problems.push_back("profile " + profile.name + " is incomplete");
  }
  if (!problems.empty()) {
    std::string message = "invalid engine config: ";
    for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
    return InvalidArgument(std::move(message));
  }

  const int32_t max_model_len = c.max_model_len > 0 ? c.max_model_len : profile.max_model_len;
  int64_t blocks = c.num_gpu_blocks_override;
  if (blocks == 0) {
    int64_t reserve =
        c.activation_reserve_bytes >= 0
            ? c.activation_reserve_bytes
            : EstimateActivationReserve(profile, c.max_num_batched_tokens, c.max_num_seqs);
    blocks = std::min<int64_t>(
        NumGpuBlocks(profile, c.gpu_memory_utilization, reserve, c.block_size), int64_t{1} << 30);
  }
  // vLLM refuses to start when one request of max_model_len cannot fit (kv_cache_utils.py:
  // check_enough_kv_cache_memory); the null block is not usable.
  const int64_t needed = CeilDiv(max_model_len, c.block_size);
  if (blocks - 1 < needed) {
    return FailedPrecondition(
        "to serve at least one request with the model's max seq len (" +
        std::to_string(max_model_len) + "), " + std::to_string(needed) +
        " KV cache blocks are needed, but only " +
        std::to_string(std::max<int64_t>(0, blocks - 1)) +
        " are available; increase gpu_memory_utilization or decrease max_model_len");
  }
  return Engine(profile, config, max_model_len, blocks);
}

// ---------------------------------------------------------------------------------------------
// Requests in and out

uint32_t Engine::NewSlot() {
  if (!free_slots_.empty()) {
    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  reqs_.emplace_back();
  return static_cast<uint32_t>(reqs_.size() - 1);
}

int32_t Engine::LoraIndex(std::string_view name) {
  auto it = lora_index_.find(std::string(name));
  if (it != lora_index_.end()) return it->second;
  int32_t index = static_cast<int32_t>(lora_names_.size());
  lora_names_.emplace_back(name);
  lora_index_.emplace(std::string(name), index);
  return index;
}

Result<void> Engine::Add(Request request) {
  if (by_id_.contains(request.id)) {
    return AlreadyExists("request " + std::to_string(request.id) + " is already in the engine");
  }
  if (request.prompt.empty()) return InvalidArgument("the prompt is empty");
  if (request.max_output_tokens < 1) return InvalidArgument("max_tokens must be at least 1");
  const int64_t prompt_len = static_cast<int64_t>(request.prompt.size());
  if (prompt_len >= max_model_len_) {
    return InvalidArgument("This model's maximum context length is " +
                           std::to_string(max_model_len_) + " tokens. However, your request has " +
                           std::to_string(prompt_len) +
                           " input tokens. Please reduce the length of the input messages.");
  }
  if (!request.lora.empty() && !config_.enable_lora) {
    return InvalidArgument("LoRA adapter \"" + request.lora + "\" requested but LoRA is disabled");
  }

  const uint32_t slot = NewSlot();
  Req& r = reqs_[slot];
  std::vector<uint64_t> hashes = std::move(r.hashes);
  std::vector<BlockId> blocks = std::move(r.blocks);
  r = Req{};
  r.hashes = std::move(hashes);
  r.blocks = std::move(blocks);
  r.id = request.id;
  r.state = Req::State::kWaiting;
  r.tokens = std::move(request.prompt);
  r.given_outputs = std::move(request.output_token_ids);
  r.prompt_len = static_cast<int32_t>(prompt_len);
  r.max_output = request.max_output_tokens;
  r.natural_output = request.output_tokens;
  r.arrival = request.arrival;
  if (!request.lora.empty()) {
    r.lora = LoraIndex(request.lora);
    r.extra_key = XXH3_64bits(request.lora.data(), request.lora.size()) | 1;
  }
  // The request's block hashes exist from the start (vLLM computes them when the request is
  // created), so lookups and caching below only read them.
  const int32_t bs = config_.block_size;
  r.hashes.reserve(CeilDiv(prompt_len + std::min(r.max_output, max_model_len_), bs));
  uint64_t parent = kNoneHash;
  for (int32_t i = 0; (i + 1) * bs <= r.prompt_len; ++i) {
    parent = HashBlock(parent, &r.tokens[static_cast<size_t>(i) * bs], bs, r.extra_key);
    r.hashes.push_back(parent);
  }
  by_id_.emplace(r.id, slot);
  waiting_.push_back(slot);
  return {};
}

void Engine::FreeBlocks(Req& r) {
  // single_type_kv_cache_manager.py: free() releases a request's blocks tail first, so that its
  // least shareable blocks are the first to be evicted.
  std::reverse(r.blocks.begin(), r.blocks.end());
  pool_->Free(r.blocks);
  r.blocks.clear();
  r.num_cached_blocks = 0;
}

Result<FinishedRequest> Engine::Abort(RequestId id, TimePoint now) {
  auto it = by_id_.find(id);
  if (it == by_id_.end())
    return NotFound("request " + std::to_string(id) + " is not in the engine");
  const uint32_t slot = it->second;
  Req& r = reqs_[slot];
  if (r.state == Req::State::kWaiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), slot));
  } else {
    running_.erase(std::find(running_.begin(), running_.end(), slot));
  }
  FinishedRequest done = Finish(slot, FinishReason::kAbort, now);
  return done;
}

FinishedRequest Engine::Finish(uint32_t slot, FinishReason reason, TimePoint when) {
  Req& r = reqs_[slot];
  FinishedRequest f;
  f.id = r.id;
  f.reason = reason;
  f.prompt_tokens = r.prompt_len;
  f.output_tokens = r.num_output();
  f.cached_prompt_tokens = std::max(0, r.cached_prompt_tokens);
  f.num_preemptions = r.num_preemptions;
  f.arrival = r.arrival;
  f.first_scheduled = r.scheduled_once ? r.first_scheduled : r.arrival;
  f.first_token = r.num_output() > 0 ? r.first_token : r.arrival;
  f.last_token = r.num_output() > 0 ? r.last_token : f.first_token;
  f.finished = when;
  f.max_inter_token_latency = r.max_itl;
  ++stats_.requests_finished[static_cast<int>(reason)];

  FreeBlocks(r);
  by_id_.erase(r.id);
  r.state = Req::State::kFree;
  // The prompt buffer came from the caller and goes; the slot keeps its other buffers.
  r.tokens = {};
  r.given_outputs = {};
  r.hashes.clear();
  free_slots_.push_back(slot);
  return f;
}

// ---------------------------------------------------------------------------------------------
// KV cache manager (kv_cache_manager.py, single_type_kv_cache_manager.py)

int32_t Engine::FindCachedPrefix(const Req& r) {
  hit_blocks_.clear();
  if (!config_.enable_prefix_caching) return 0;
  // The last token is always recomputed to get logits, so at most num_tokens - 1 tokens hit,
  // rounded down to whole blocks.
  const int32_t max_blocks = (r.num_tokens() - 1) / config_.block_size;
  const int32_t n = std::min<int32_t>(max_blocks, static_cast<int32_t>(r.hashes.size()));
  for (int32_t i = 0; i < n; ++i) {
    BlockId b = pool_->Lookup(r.hashes[i]);
    if (b == kNoBlock) break;
    hit_blocks_.push_back(b);
  }
  return static_cast<int32_t>(hit_blocks_.size());
}

int32_t Engine::CachedPrefixTokens(std::span<const int32_t> prompt) const {
  if (!config_.enable_prefix_caching || prompt.empty()) return 0;
  const int32_t bs = config_.block_size;
  const int32_t max_blocks = static_cast<int32_t>((prompt.size() - 1) / static_cast<size_t>(bs));
  uint64_t parent = kNoneHash;
  int32_t hit = 0;
  for (; hit < max_blocks; ++hit) {
    parent = HashBlock(parent, &prompt[static_cast<size_t>(hit) * bs], bs, /*extra=*/0);
    if (pool_->Lookup(parent) == kNoBlock) break;
  }
  return hit * bs;
}

void Engine::CacheFullBlocks(Req& r, int32_t num_tokens) {
  if (!config_.enable_prefix_caching) return;
  const int32_t full =
      std::min<int32_t>(num_tokens / config_.block_size, static_cast<int32_t>(r.hashes.size()));
  for (int32_t i = r.num_cached_blocks; i < full; ++i) pool_->Cache(r.blocks[i], r.hashes[i]);
  r.num_cached_blocks = std::max(r.num_cached_blocks, full);
}

// allocate_slots(): room for r.num_computed + `num_new_tokens` tokens, where the first
// `num_hit_blocks` blocks of hit_blocks_ are a prefix-cache hit not yet in r.blocks. Fails
// without side effects when the free queue is too short (hit blocks that sit in the free queue
// count against it, since touching them takes them out).
bool Engine::AllocateSlots(Req& r, int32_t num_new_tokens, int32_t num_hit_blocks) {
  const int32_t bs = config_.block_size;
  const int32_t required = CeilDiv(int64_t{r.num_computed} + num_new_tokens, bs);
  const int32_t have = static_cast<int32_t>(r.blocks.size()) + num_hit_blocks;
  const int32_t fresh = std::max(0, required - have);
  int32_t evictable_hits = 0;
  for (int32_t i = 0; i < num_hit_blocks; ++i)
    evictable_hits += pool_->RefCount(hit_blocks_[i]) == 0;
  if (fresh + evictable_hits > pool_->num_free()) return false;
  for (int32_t i = 0; i < num_hit_blocks; ++i) {
    pool_->Touch(hit_blocks_[i]);
    r.blocks.push_back(hit_blocks_[i]);
  }
  if (num_hit_blocks > 0) r.num_cached_blocks = num_hit_blocks;
  pool_->Allocate(fresh, r.blocks);
  // Blocks are registered in the prefix index when scheduled, before they are computed, as vLLM
  // does: a request admitted later in the same step can already hit them.
  CacheFullBlocks(r, std::min(r.num_computed + num_new_tokens, r.num_tokens()));
  return true;
}

void Engine::Preempt(uint32_t slot) {
  // scheduler.py _preempt_request: recompute policy, back to the front of the queue.
  Req& r = reqs_[slot];
  FreeBlocks(r);
  r.num_computed = 0;
  ++r.num_preemptions;
  r.state = Req::State::kWaiting;
  waiting_.push_front(slot);
  ++stats_.num_preemptions;
  ++step_.num_preempted;
}

// ---------------------------------------------------------------------------------------------
// Scheduler (our reading of vllm/v1/core/sched/scheduler.py: Scheduler.schedule)

void Engine::Schedule() {
  scheduled_.clear();
  step_loras_.clear();
  int32_t budget = config_.max_num_batched_tokens;
  bool preempted = false;

  // 1. Running requests, in order: one decode token each, or the next chunk of a prefill.
  size_t i = 0;
  while (i < running_.size() && budget > 0) {
    const uint32_t slot = running_[i];
    Req& r = reqs_[slot];
    int32_t num_new = std::min(r.num_tokens() - r.num_computed, budget);
    num_new = std::min(num_new, max_model_len_ - 1 - r.num_computed);
    if (num_new <= 0) {
      ++i;
      continue;
    }
    bool fits = true;
    while (!AllocateSlots(r, num_new, 0)) {
      // Out of blocks: preempt the most recently admitted request, possibly this one.
      const uint32_t victim = running_.back();
      running_.pop_back();
      Preempt(victim);
      preempted = true;
      if (victim == slot) {
        fits = false;
        break;
      }
    }
    if (!fits) break;
    scheduled_.push_back({slot, num_new});
    budget -= num_new;
    if (r.lora >= 0 &&
        std::find(step_loras_.begin(), step_loras_.end(), r.lora) == step_loras_.end()) {
      step_loras_.push_back(r.lora);
    }
    ++i;
  }

  // 2. Waiting requests, FCFS, unless this step had to preempt.
  if (preempted) return;
  size_t skipped = 0;  // LoRA-skipped requests rotate to the back of waiting_, then return
  size_t remaining = waiting_.size();
  while (remaining > 0 && budget > 0) {
    if (running_.size() >= static_cast<size_t>(config_.max_num_seqs)) break;
    const uint32_t slot = waiting_.front();
    Req& r = reqs_[slot];
    if (config_.enable_lora && r.lora >= 0 &&
        static_cast<int32_t>(step_loras_.size()) >= config_.max_loras &&
        std::find(step_loras_.begin(), step_loras_.end(), r.lora) == step_loras_.end()) {
      // Its adapter would exceed max_loras in this step: skip it, keeping its place.
      waiting_.pop_front();
      waiting_.push_back(slot);
      ++skipped;
      --remaining;
      continue;
    }
    const int32_t hit_blocks = FindCachedPrefix(r);
    const int32_t hit_tokens = hit_blocks * config_.block_size;
    r.num_computed = hit_tokens;
    const int32_t num_new = std::min(r.num_tokens() - hit_tokens, budget);
    if (!AllocateSlots(r, num_new, hit_blocks)) {
      r.num_computed = 0;
      if (running_.empty() && scheduled_.empty() &&
          CeilDiv(int64_t{hit_tokens} + num_new, config_.block_size) > pool_->capacity() - 1) {
        // Cannot fit even in an empty cache (the cache shrank under it): it would block the
        // queue forever. vLLM never gets here because it sizes the cache for max_model_len.
        waiting_.pop_front();
        --remaining;
        step_.finished.push_back(Finish(slot, FinishReason::kAbort, busy_until_));
        continue;
      }
      break;
    }
    // Counted at admission, so a request that waits is not counted twice (vLLM >= 0.11).
    if (config_.enable_prefix_caching) {
      if (r.num_preemptions > 0) {
        stats_.preempted_prefix_cache_queries += r.num_tokens();
        stats_.preempted_prefix_cache_hits += hit_tokens;
      } else {
        stats_.prefix_cache_queries += r.num_tokens();
        stats_.prefix_cache_hits += hit_tokens;
      }
    }
    waiting_.pop_front();
    --remaining;
    r.state = Req::State::kRunning;
    running_.push_back(slot);
    if (r.cached_prompt_tokens < 0) r.cached_prompt_tokens = hit_tokens;
    if (!r.scheduled_once) {
      r.scheduled_once = true;
      r.first_scheduled = busy_until_;
    }
    scheduled_.push_back({slot, num_new});
    budget -= num_new;
    if (r.lora >= 0 &&
        std::find(step_loras_.begin(), step_loras_.end(), r.lora) == step_loras_.end()) {
      step_loras_.push_back(r.lora);
    }
  }
  // Put skipped requests back at the head, in their original order (scheduler.py prepends its
  // skipped_waiting_requests queue).
  for (size_t k = 0; k < skipped; ++k) {
    const uint32_t slot = waiting_.back();
    waiting_.pop_back();
    waiting_.push_front(slot);
  }
}

// ---------------------------------------------------------------------------------------------
// Steps

void Engine::AppendToken(Req& r) {
  const int32_t index = r.num_output();
  int32_t token = index < static_cast<int32_t>(r.given_outputs.size())
                      ? r.given_outputs[index]
                      : SyntheticToken(r.id, index);
  r.tokens.push_back(token);
  const int32_t bs = config_.block_size;
  if (r.num_tokens() % bs == 0) {
    uint64_t parent = r.hashes.empty() ? kNoneHash : r.hashes.back();
    r.hashes.push_back(HashBlock(parent, &r.tokens[r.tokens.size() - bs], bs, r.extra_key));
  }
}

Duration Engine::FinalDuration(double model_ms, bool lora, int32_t lora_loads) const {
  if (lora) model_ms *= 1 + config_.lora_step_penalty;
  Duration d =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(model_ms)) +
      config_.step_overhead + lora_loads * config_.lora_load_time;
  if (config_.slowdown != 1.0) {
    d = Duration(static_cast<Duration::rep>(
        std::llround(static_cast<double>(d.count()) * config_.slowdown)));
  }
  return d;
}

void Engine::CountStep(int32_t tokens) {
  ++step_count_;
  ++stats_.num_steps;
  auto bucket =
      std::lower_bound(kIterationTokenBuckets.begin(), kIterationTokenBuckets.end(), tokens);
  ++stats_.iteration_tokens_buckets[bucket - kIterationTokenBuckets.begin()];
  stats_.iteration_tokens_sum += tokens;
}

void Engine::RunStep(TimePoint now, bool emit_tokens) {
  BRIX_CHECK(now >= busy_until_) << "a step started before the previous one ended";
  busy_until_ = now;
  step_.start = now;
  step_.end = now;
  step_.num_scheduled_tokens = 0;
  step_.num_prefill_tokens = 0;
  step_.num_decodes = 0;
  step_.num_preempted = 0;
  step_.num_lora_loads = 0;
  step_.tokens.clear();
  step_.finished.clear();
  step_.first_tokens.clear();

  Schedule();
  if (scheduled_.empty()) return;

  // Shape of the step and its duration.
  chunks_.clear();
  int64_t context_sum = 0;
  int32_t decodes = 0;
  int32_t tokens = 0;
  for (const Scheduled& s : scheduled_) {
    const Req& r = reqs_[s.slot];
    tokens += s.num_new_tokens;
    if (s.num_new_tokens == 1 && r.num_output() > 0 && r.num_computed == r.num_tokens() - 1) {
      ++decodes;
      context_sum += r.num_tokens();
    } else {
      chunks_.push_back({s.num_new_tokens, r.num_computed});
      step_.num_prefill_tokens += s.num_new_tokens;
    }
  }
  const double ms = step_time_->StepMillis(
      {.prefills = chunks_, .num_decodes = decodes, .decode_context_sum = context_sum});
  if (!step_loras_.empty()) {
    // GPU adapter slots, least recently used first out (LRUCacheWorkerLoRAManager).
    for (int32_t lora : step_loras_) {
      auto slot = std::find_if(lora_slots_.begin(), lora_slots_.end(),
                               [&](const auto& s) { return s.first == lora; });
      if (slot != lora_slots_.end()) {
        slot->second = step_count_;
        continue;
      }
      ++step_.num_lora_loads;
      lora_slots_.push_back({lora, step_count_});
      if (static_cast<int32_t>(lora_slots_.size()) > config_.max_loras) {
        auto lru =
            std::min_element(lora_slots_.begin(), lora_slots_.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        if (lru->second < step_count_) lora_slots_.erase(lru);
      }
    }
  }
  const TimePoint end = now + FinalDuration(ms, !step_loras_.empty(), step_.num_lora_loads);
  step_.end = end;
  step_.num_scheduled_tokens = tokens;
  step_.num_decodes = decodes;
  busy_until_ = end;
  CountStep(tokens);

  // The step's results, visible at `end` (scheduler.py update_from_output).
  bool any_finished = false;
  for (const Scheduled& s : scheduled_) {
    Req& r = reqs_[s.slot];
    r.num_computed += s.num_new_tokens;
    if (r.num_computed < r.num_tokens()) continue;  // a prefill chunk that is not the last
    AppendToken(r);
    ++stats_.generation_tokens;
    if (r.num_output() == 1) {
      r.first_token = end;
      step_.first_tokens.push_back(r.id);
      stats_.prompt_tokens += r.prompt_len;
    } else {
      r.max_itl = std::max(r.max_itl, end - r.last_token);
    }
    r.last_token = end;
    bool done = false;
    FinishReason reason = FinishReason::kLength;
    if (r.num_output() >= r.max_output || r.num_tokens() >= max_model_len_) {
      done = true;
    } else if (r.natural_output > 0 && r.num_output() >= r.natural_output) {
      done = true;
      reason = FinishReason::kStop;
    }
    if (emit_tokens) step_.tokens.push_back({r.id, r.num_output(), r.tokens.back(), done});
    if (done) {
      step_.finished.push_back(Finish(s.slot, reason, end));
      any_finished = true;
    }
  }
  if (any_finished) {
    std::erase_if(running_,
                  [&](uint32_t slot) { return reqs_[slot].state != Req::State::kRunning; });
  }
}

const StepResult& Engine::Step(TimePoint now) {
  RunStep(now, /*emit_tokens=*/true);
  return step_;
}

// Runs, in one go, the steps from `now` in which nothing but the same decodes can happen: no
// request waits, every running request decodes, none finishes before the last of them, no
// adapter needs loading and the free queue covers every block they will need. Such steps differ
// only in their contexts, which grow by one per step, so their durations are computed one by
// one as Step() would; block allocations and prefix-cache registrations, which happen every
// block_size steps per request, are replayed in the order Step() would do them (step by step,
// running order within a step), and output tokens are appended lazily. Returns false, doing
// nothing, when the conditions do not hold or the window would be a single step.
bool Engine::RunDecodeWindow(TimePoint now, TimePoint deadline) {
  if (!waiting_.empty() || running_.empty() ||
      running_.size() > static_cast<size_t>(config_.max_num_batched_tokens)) {
    return false;
  }
  const int32_t bs = config_.block_size;
  const int32_t batch = static_cast<int32_t>(running_.size());
  int32_t k = std::numeric_limits<int32_t>::max();
  int64_t context_sum = 0;
  bool lora = false;
  for (uint32_t slot : running_) {
    const Req& r = reqs_[slot];
    if (r.num_output() == 0 || r.num_computed != r.num_tokens() - 1) return false;
    int32_t remaining = std::min(r.max_output - r.num_output(), max_model_len_ - r.num_tokens());
    if (r.natural_output > 0) remaining = std::min(remaining, r.natural_output - r.num_output());
    k = std::min(k, remaining);
    context_sum += r.num_tokens();
    if (r.lora >= 0) {
      lora = true;
      if (std::none_of(lora_slots_.begin(), lora_slots_.end(),
                       [&](const auto& s) { return s.first == r.lora; })) {
        return false;
      }
    }
  }
  if (k < 2) return false;
  int64_t new_blocks = 0;
  for (uint32_t slot : running_) {
    const Req& r = reqs_[slot];
    new_blocks += std::max<int64_t>(
        0, CeilDiv(int64_t{r.num_tokens()} + k - 1, bs) - static_cast<int64_t>(r.blocks.size()));
  }
  if (new_blocks > pool_->num_free()) return false;

  // Running indices by num_tokens % block_size, each list in running order.
  phase_lists_.resize(bs);
  for (auto& list : phase_lists_) list.clear();
  window_start_tokens_.resize(running_.size());
  for (size_t i = 0; i < running_.size(); ++i) {
    const int32_t t = reqs_[running_[i]].num_tokens();
    window_start_tokens_[i] = t;
    phase_lists_[t % bs].push_back(static_cast<int32_t>(i));
  }

  BRIX_CHECK(now >= busy_until_);
  TimePoint t = now;
  TimePoint first_end = now;
  Duration longest_later = Duration::zero();
  int32_t steps = 0;
  for (int32_t j = 0; j < k && t < deadline; ++j) {
    // At step j a request with t0 tokens at the start schedules its token t0 + j - 1: a new block
    // when (t0 + j) % bs == 1, a block to register when (t0 + j) % bs == 0.
    const auto& allocs = phase_lists_[((1 - j) % bs + bs) % bs];
    const auto& caches = phase_lists_[((-j) % bs + bs) % bs];
    size_t a = 0, c = 0;
    while (a < allocs.size() || c < caches.size()) {
      const bool take_alloc = c == caches.size() || (a < allocs.size() && allocs[a] < caches[c]);
      const int32_t index = take_alloc ? allocs[a++] : caches[c++];
      Req& r = reqs_[running_[index]];
      const int32_t tokens_now = window_start_tokens_[index] + j;
      if (take_alloc) {
        pool_->Allocate(1, r.blocks);
      } else {
        while (r.num_tokens() < tokens_now) AppendToken(r);
        CacheFullBlocks(r, tokens_now);
      }
    }
    const double ms = step_time_->StepMillis(
        {.num_decodes = batch, .decode_context_sum = context_sum + int64_t{batch} * j});
    const Duration d = FinalDuration(ms, lora, 0);
    t += d;
    if (j == 0) {
      first_end = t;
    } else {
      longest_later = std::max(longest_later, d);
    }
    CountStep(batch);
    ++steps;
  }
  busy_until_ = t;
  stats_.generation_tokens += int64_t{batch} * steps;
  for (auto& [adapter, last_use] : lora_slots_) {
    for (uint32_t slot : running_) {
      if (reqs_[slot].lora == adapter) {
        last_use = step_count_ - 1;
        break;
      }
    }
  }
  bool any_finished = false;
  for (size_t i = 0; i < running_.size(); ++i) {
    const uint32_t slot = running_[i];
    Req& r = reqs_[slot];
    while (r.num_tokens() < window_start_tokens_[i] + steps) AppendToken(r);
    r.num_computed = r.num_tokens() - 1;
    r.max_itl = std::max({r.max_itl, first_end - r.last_token, longest_later});
    r.last_token = t;
    if (steps < k) continue;
    if (r.num_output() >= r.max_output || r.num_tokens() >= max_model_len_) {
      run_.finished.push_back(Finish(slot, FinishReason::kLength, t));
      any_finished = true;
    } else if (r.natural_output > 0 && r.num_output() >= r.natural_output) {
      run_.finished.push_back(Finish(slot, FinishReason::kStop, t));
      any_finished = true;
    }
  }
  if (any_finished) {
    std::erase_if(running_,
                  [&](uint32_t slot) { return reqs_[slot].state != Req::State::kRunning; });
  }
  return true;
}

const RunResult& Engine::RunUntil(TimePoint now, TimePoint deadline) {
  run_.finished.clear();
  run_.first_tokens.clear();
  run_.num_steps = 0;
  run_.end = now;
  const int64_t steps_before = stats_.num_steps;
  TimePoint t = now;
  while (HasWork() && t < deadline) {
    if (!RunDecodeWindow(t, deadline)) {
      RunStep(t, /*emit_tokens=*/false);
      run_.finished.insert(run_.finished.end(), step_.finished.begin(), step_.finished.end());
      for (RequestId id : step_.first_tokens) run_.first_tokens.emplace_back(id, step_.end);
    }
    t = busy_until_;
  }
  run_.num_steps = stats_.num_steps - steps_before;
  run_.end = t;
  return run_;
}

// ---------------------------------------------------------------------------------------------
// Runtime knobs and introspection

void Engine::SetSlowdown(double factor) {
  BRIX_CHECK(factor > 0 && std::isfinite(factor)) << factor;
  config_.slowdown = factor;
}

void Engine::SetKvCapacity(int64_t num_blocks) {
  BRIX_CHECK(num_blocks >= 2 && num_blocks <= (int64_t{1} << 30)) << num_blocks;
  const int32_t target = static_cast<int32_t>(num_blocks);
  // Shrinking needs the blocks to drop to be free: preempt from the back of running until so.
  while (pool_->capacity() - target > pool_->num_free() && !running_.empty()) {
    const uint32_t victim = running_.back();
    running_.pop_back();
    Preempt(victim);
  }
  pool_->Resize(target);
}

Stats Engine::GetStats() const {
  Stats s = stats_;
  s.num_running = static_cast<int32_t>(running_.size());
  s.num_waiting = static_cast<int32_t>(waiting_.size());
  s.kv_cache_usage = pool_->Usage();
  s.num_gpu_blocks = pool_->capacity();
  s.num_free_blocks = pool_->num_free();
  s.num_cached_blocks = static_cast<int64_t>(pool_->num_cached());
  s.max_loras = config_.enable_lora ? config_.max_loras : 0;
  auto names = [&](auto begin, auto end) {
    std::vector<std::string> out;
    for (auto it = begin; it != end; ++it) {
      int32_t lora = reqs_[*it].lora;
      if (lora >= 0) out.push_back(lora_names_[lora]);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  s.running_loras = names(running_.begin(), running_.end());
  s.waiting_loras = names(waiting_.begin(), waiting_.end());
  return s;
}

void Engine::CheckInvariants() const {
  pool_->CheckInvariants();
  boost::unordered_flat_map<BlockId, int32_t> held;  // block -> requests holding it
  for (uint32_t slot : running_) {
    const Req& r = reqs_[slot];
    BRIX_CHECK(r.state == Req::State::kRunning) << r.id;
    BRIX_CHECK(r.num_computed <= r.num_tokens()) << r.id;
    BRIX_CHECK(static_cast<int32_t>(r.blocks.size()) == CeilDiv(r.num_computed, config_.block_size))
        << r.id << ": " << r.blocks.size() << " blocks for " << r.num_computed << " tokens";
    for (BlockId b : r.blocks) ++held[b];
  }
  for (uint32_t slot : waiting_) {
    const Req& r = reqs_[slot];
    BRIX_CHECK(r.state == Req::State::kWaiting) << r.id;
    BRIX_CHECK(r.blocks.empty() && r.num_computed == 0) << r.id;
  }
  size_t live = 0;
  for (const Req& r : reqs_) {
    if (r.state == Req::State::kFree) continue;
    ++live;
    auto it = by_id_.find(r.id);
    BRIX_CHECK(it != by_id_.end() && &reqs_[it->second] == &r) << r.id;
    BRIX_CHECK(static_cast<int32_t>(r.hashes.size()) == r.num_tokens() / config_.block_size)
        << r.id;
    BRIX_CHECK(r.num_output() <= r.max_output && r.num_tokens() < max_model_len_) << r.id;
  }
  BRIX_CHECK(live == running_.size() + waiting_.size());
  BRIX_CHECK(live == by_id_.size());
  BRIX_CHECK(running_.size() <= static_cast<size_t>(config_.max_num_seqs));
  // Every reference on a block is a request holding it; every other usable block is free.
  for (const auto& [block, count] : held) {
    BRIX_CHECK(pool_->RefCount(block) == count) << "block " << block;
  }
  BRIX_CHECK(static_cast<int64_t>(held.size()) + pool_->num_free() + 1 == pool_->capacity())
      << held.size() << " held + " << pool_->num_free() << " free + 1 != " << pool_->capacity();
}

}  // namespace brix::engine
