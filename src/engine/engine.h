// Engine: a model of one vLLM V1 engine (scheduler, paged KV cache with automatic prefix caching,
// LoRA slots, calibrated step times) that runs on time passed in by its caller.
//
// It does no I/O, starts no threads and reads no clock, so the same object drives `brix sim` in
// real time and the cluster simulator in virtual time:
//
//   Result<Engine> engine = Engine::Create(profile, EngineConfig{});
//   engine->Add({.id = 1, .prompt = tokens, .max_output_tokens = 128, .arrival = now});
//   while (engine->HasWork()) {
//     const StepResult& step = engine->Step(now);   // one scheduler iteration starting at `now`
//     now = step.end;                                // real time: sleep until step.end, then
//     for (const TokenOutput& t : step.tokens) ...   //   publish what became visible
//   }
//
// Requests added while a step runs take part from the next step on, as in vLLM. The engine owns
// all request state; callers keep only ids. Not thread-safe: one owner calls everything.
#pragma once

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "engine/profile.h"

namespace brix::engine {

using base::TimePoint;
using RequestId = uint64_t;

namespace internal {
class BlockPool;
using BlockId = int32_t;
}  // namespace internal

// Engine settings; the names are vLLM's flags. Fixed for an engine's life except those marked
// "runtime" (see Engine::SetSlowdown, Engine::SetKvCapacity).
struct EngineConfig {
  // Token budget of one step (prefill chunks + decodes). vLLM's default on H100/H200: 8192.
  int32_t max_num_batched_tokens = 8192;
  // Most requests running at once. vLLM's default on H100/H200: 1024.
  int32_t max_num_seqs = 1024;
  // Tokens per KV block (8, 16, 32, 64 or 128).
  int32_t block_size = 16;
  // Fraction of GPU memory vLLM may use for weights, activations and KV cache, in (0, 1].
  double gpu_memory_utilization = 0.9;
  // Automatic prefix caching (on by default in V1).
  bool enable_prefix_caching = true;
  // Longest prompt + output in tokens; 0 = the profile's (the model's max_position_embeddings).
  int32_t max_model_len = 0;
  // Bytes reserved for activations etc. besides weights; < 0 = EstimateActivationReserve().
  int64_t activation_reserve_bytes = -1;
  // If > 0, the KV cache has exactly this many blocks (vLLM's --num-gpu-blocks-override).
  int64_t num_gpu_blocks_override = 0;

  // LoRA. Disabled: requests naming an adapter are rejected by Add.
  bool enable_lora = false;
  // Adapters resident on the GPU, hence the most distinct adapters in one step (vLLM default 1).
  int32_t max_loras = 1;
  // Added to a step for each adapter it loads into a GPU slot (first use, or after eviction).
  Duration lora_load_time = std::chrono::milliseconds(20);
  // Fractional step-time increase when any request in the step uses an adapter (Punica/SGMV
  // kernels on top of the base GEMMs). Not calibrated: no LoRA measurements in the profiles.
  double lora_step_penalty = 0.1;

  // Fixed time added to every step (scheduler, sampler, input preparation). 0: the calibration's
  // CUDA-graph timings already match vLLM's decode ITL closely; raise it to model a slow CPU.
  Duration step_overhead = Duration::zero();
  // Runtime: multiplies every step's duration (fault injection: a throttled or sick GPU). >= 1
  // slows down, < 1 speeds up; must be > 0.
  double slowdown = 1.0;
};

// One generation request. The shell decides how long the answer is: `output_tokens` is the
// natural length (where the model would emit EOS); max_output_tokens caps it.
struct Request {
  RequestId id = 0;                // unique among the engine's live requests
  std::vector<int32_t> prompt;     // token ids; not empty
  int32_t max_output_tokens = 16;  // >= 1 ("length" when reached)
  // Natural length: the request stops ("stop") after this many tokens if that is below
  // max_output_tokens; <= 0 means it runs to max_output_tokens (ignore_eos).
  int32_t output_tokens = 0;
  // The output's token ids if the shell knows them (so that a follow-up turn that repeats the
  // answer hits the prefix cache); positions beyond get ids unique to this request.
  std::vector<int32_t> output_token_ids;
  std::string lora;   // adapter name; empty = base model
  TimePoint arrival;  // when the request reached the engine (queue time starts here)
};

enum class FinishReason : uint8_t {
  kStop,    // reached its natural length (EOS)
  kLength,  // reached max_output_tokens or max_model_len
  kAbort,   // aborted by Abort(), or can never fit the KV cache (see Step)
};
std::string_view FinishReasonName(FinishReason reason);  // "stop", "length", "abort"

// A finished request's accounting, in the terms of vLLM's request metrics
// (vllm/v1/metrics/stats.py): all times are step ends except arrival and first_scheduled.
struct FinishedRequest {
  RequestId id = 0;
  FinishReason reason = FinishReason::kStop;
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prefix-cache hit when first scheduled (usage.cached_tokens)
  int32_t num_preemptions = 0;
  TimePoint arrival;
  TimePoint first_scheduled;  // == arrival + queue time; arrival if never scheduled
  TimePoint first_token;      // arrival if no token was produced
  TimePoint last_token;
  TimePoint finished;
  Duration max_inter_token_latency = Duration::zero();

  Duration queue_time() const { return first_scheduled - arrival; }
  Duration ttft() const { return first_token - arrival; }
  Duration prefill_time() const { return first_token - first_scheduled; }
  Duration decode_time() const { return last_token - first_token; }
  Duration inference_time() const { return last_token - first_scheduled; }
  Duration e2e_latency() const { return finished - arrival; }
};

// A token that became visible at the end of a step.
struct TokenOutput {
  RequestId id = 0;
  int32_t num_output_tokens = 0;  // this request's output length, this token included
  int32_t token_id = 0;           // from Request::output_token_ids, or a synthetic negative id
  bool finished = false;          // its FinishedRequest is in the same StepResult
};

// What one step did. Owned by the engine; valid until the next call that changes it.
struct StepResult {
  TimePoint start;
  TimePoint end;                     // start + duration; every output below becomes visible then
  int32_t num_scheduled_tokens = 0;  // vllm:iteration_tokens_total observes this
  int32_t num_prefill_tokens = 0;
  int32_t num_decodes = 0;
  int32_t num_preempted = 0;
  int32_t num_lora_loads = 0;
  std::vector<TokenOutput> tokens;        // in running order
  std::vector<FinishedRequest> finished;  // requests that finished in this step
  std::vector<RequestId> first_tokens;    // requests whose first token this step produced
  Duration duration() const { return end - start; }
};

// Result of RunUntil: many steps, without per-token outputs.
struct RunResult {
  TimePoint end;  // when the last step executed ends (the `now` passed in if none ran)
  int64_t num_steps = 0;
  std::vector<FinishedRequest> finished;
  // Requests that got their first token, with when (a step's end); in step order.
  std::vector<std::pair<RequestId, TimePoint>> first_tokens;
};

// vllm:iteration_tokens_total's buckets (1, 8, 16, 32, ..., 16384), upper bounds inclusive.
inline constexpr std::array<int32_t, 13> kIterationTokenBuckets = {
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};

// Counters since creation and gauges now, for vLLM's /metrics.
struct Stats {
  int32_t num_running = 0;
  int32_t num_waiting = 0;
  double kv_cache_usage = 0;   // 0..1: 1 - free / usable blocks (cached-but-free counts as free)
  int64_t num_gpu_blocks = 0;  // KV cache size in blocks (vllm:cache_config_info num_gpu_blocks)
  int64_t num_free_blocks = 0;
  int64_t num_cached_blocks = 0;  // blocks findable by hash
  // Tokens looked up / found in the prefix cache when a waiting request is admitted (requests
  // never preempted; preempted ones are counted separately), as vLLM >= 0.9 counts them.
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  int64_t preempted_prefix_cache_queries = 0;
  int64_t preempted_prefix_cache_hits = 0;
  int64_t num_preemptions = 0;
  int64_t prompt_tokens = 0;      // whole prompt, counted when its first token is produced
  int64_t generation_tokens = 0;  // output tokens produced
  int64_t num_steps = 0;
  int64_t requests_finished[3] = {0, 0, 0};  // by FinishReason
  // Histogram of tokens per step: counts per kIterationTokenBuckets bucket, then overflow.
  std::array<int64_t, kIterationTokenBuckets.size() + 1> iteration_tokens_buckets{};
  int64_t iteration_tokens_sum = 0;
  int32_t max_loras = 0;                   // 0 when LoRA is disabled
  std::vector<std::string> running_loras;  // distinct adapters of running requests, sorted
  std::vector<std::string> waiting_loras;  // of waiting requests, sorted
};

class Engine {
 public:
  // Validates `config` against `profile` (all problems in one InvalidArgument message) and sizes
  // the KV cache. FailedPrecondition if the cache cannot hold one max_model_len request, as vLLM
  // refuses to start then.
  static Result<Engine> Create(const Profile& profile, const EngineConfig& config);

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  const EngineConfig& config() const { return config_; }
  const Profile& profile() const { return profile_; }
  const StepTimeModel& step_time_model() const { return *step_time_; }
  int32_t max_model_len() const { return max_model_len_; }

  // Queues a request (it is considered from the next step). InvalidArgument: empty prompt,
  // max_output_tokens < 1, prompt of max_model_len tokens or more ("This model's maximum context
  // length is N tokens ..."), an adapter while LoRA is disabled. AlreadyExists: a live request
  // has this id.
  Result<void> Add(Request request);
  // Drops a waiting or running request and frees its blocks; no outputs are reported for it.
  // Returns its accounting (reason kAbort, finished = now), or NotFound.
  Result<FinishedRequest> Abort(RequestId id, TimePoint now);
  // Whether any request is waiting or running.
  bool HasWork() const { return !running_.empty() || !waiting_.empty(); }
  // When the last step ends; callers must not start a step before it.
  TimePoint busy_until() const { return busy_until_; }

  // Runs one scheduler iteration starting at `now` (>= busy_until()) and returns what it did.
  // With no work it returns an empty step with end == now. A waiting request that cannot fit in
  // the whole KV cache even when nothing else runs (possible only after SetKvCapacity shrinks
  // it) finishes with kAbort instead of blocking the queue forever.
  const StepResult& Step(TimePoint now);
  // Runs steps back to back from `now` while there is work and the next step would start before
  // `deadline`; reports finished requests only. Identical timings to calling Step() in a loop.
  // For virtual-time drivers: call it up to the next arrival, Add, repeat.
  const RunResult& RunUntil(TimePoint now, TimePoint deadline);

  // Runtime knobs (fault injection). Take effect from the next step.
  void SetSlowdown(double factor);  // > 0
  // Resizes the KV cache to `num_blocks` >= 2 (including vLLM's null block). When running
  // requests hold more than fits, the most recently admitted are preempted until it fits.
  void SetKvCapacity(int64_t num_blocks);

  Stats GetStats() const;

  // How many leading tokens of `prompt` a request for the base model would find in the prefix
  // cache now (whole blocks, at most prompt.size() - 1, as when it is scheduled); 0 with prefix
  // caching off. Read-only: touches nothing. For the cluster simulator's oracle router.
  int32_t CachedPrefixTokens(std::span<const int32_t> prompt) const;

  // Checks every internal invariant (block accounting, queues, reference counts) with
  // BRIX_CHECK; O(blocks + requests). For tests and the fuzzer.
  void CheckInvariants() const;

 private:
  struct Req;
  Engine(const Profile& profile, const EngineConfig& config, int32_t max_model_len,
         int64_t num_blocks);

  // One step; `emit_tokens` fills step_.tokens.
  void RunStep(TimePoint now, bool emit_tokens);
  // Several identical decode-only steps at once (RunUntil's fast path); false if not possible.
  bool RunDecodeWindow(TimePoint now, TimePoint deadline);
  // A step's wall time from the model's milliseconds: LoRA penalty and loads, overhead, slowdown.
  Duration FinalDuration(double model_ms, bool lora, int32_t lora_loads) const;
  void CountStep(int32_t tokens);
  void Schedule();
  bool AllocateSlots(Req& r, int32_t num_new_tokens, int32_t num_hit_blocks);
  void Preempt(uint32_t slot);
  void FreeBlocks(Req& r);
  void CacheFullBlocks(Req& r, int32_t num_tokens);
  int32_t FindCachedPrefix(const Req& r);
  void AppendToken(Req& r);
  // Frees the request and its blocks; returns its accounting.
  FinishedRequest Finish(uint32_t slot, FinishReason reason, TimePoint when);
  uint32_t NewSlot();
  int32_t LoraIndex(std::string_view name);

  Profile profile_;
  EngineConfig config_;
  std::unique_ptr<StepTimeModel> step_time_;
  std::unique_ptr<internal::BlockPool> pool_;
  int32_t max_model_len_ = 0;

  std::vector<Req> reqs_;  // slots; free ones listed in free_slots_
  std::vector<uint32_t> free_slots_;
  boost::unordered_flat_map<RequestId, uint32_t> by_id_;
  std::deque<uint32_t> waiting_;
  std::vector<uint32_t> running_;

  // LoRA: interned adapter names, and the GPU slots (adapter index, last use step) in LRU order.
  std::vector<std::string> lora_names_;
  boost::unordered_flat_map<std::string, int32_t> lora_index_;
  std::vector<std::pair<int32_t, int64_t>> lora_slots_;

  // Per-step scratch, reused.
  struct Scheduled {
    uint32_t slot;
    int32_t num_new_tokens;
  };
  std::vector<Scheduled> scheduled_;
  std::vector<PrefillChunk> chunks_;
  std::vector<int32_t> step_loras_;
  std::vector<internal::BlockId> hit_blocks_;
  std::vector<std::vector<int32_t>> phase_lists_;  // RunDecodeWindow
  std::vector<int32_t> window_start_tokens_;

  StepResult step_;
  RunResult run_;
  Stats stats_;
  TimePoint busy_until_;
  int64_t step_count_ = 0;
};

}  // namespace brix::engine
