// Profile: what one GPU type running one model costs, as measured (data/profiles/), and the
// StepTimeModel that turns it into the duration of one engine step.
//
//   Result<Profile> profile = LoadProfile("data/profiles", "h100/llama-3.1-8b");
//   StepTimeModel model(*profile);
//   std::array<PrefillChunk, 1> chunks{{{.new_tokens = 512, .cached_tokens = 0}}};
//   Duration d = model.StepTime({.prefills = chunks, .num_decodes = 8, .decode_context_sum =
//   8000});
//
// A Profile is a plain value; a StepTimeModel is immutable after construction and may be used from
// any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/error.h"

namespace brix::engine {

using base::Duration;

// Model dimensions (the `config` field of the calibration files).
struct ModelShape {
  int32_t layers = 0;
  int32_t hidden = 0;        // d
  int32_t heads = 0;         // query heads
  int32_t kv_heads = 0;      // GQA key/value heads
  int32_t head_dim = 0;      // hd
  int32_t intermediate = 0;  // ffn (SwiGLU width)
  int32_t vocab = 0;
};

// One measured point; `ms` is milliseconds. Unused coordinates are 0.
struct CalibrationPoint {
  int64_t tokens = 0;   // prefill: new tokens; decode: batch size (sequences)
  int64_t context = 0;  // prefill: cached tokens before the new ones; decode: context per sequence
  double ms = 0;
};

struct Profile {
  std::string name;                // "h100/llama-3.1-8b"
  std::string gpu;                 // "h100"
  std::string model;               // "llama-3.1-8b"
  std::string device;              // "NVIDIA H100 80GB HBM3"
  int64_t gpu_memory_bytes = 0;    // total device memory, before gpu_memory_utilization
  int64_t weight_bytes = 0;        // bf16 weights
  int64_t kv_bytes_per_token = 0;  // K and V, all layers
  int32_t max_model_len = 0;       // default context length (max_position_embeddings)
  ModelShape shape;

  // Whole-model tables (`<model>.json`).
  std::vector<CalibrationPoint> prefill;         // {tokens, 0}: batch 1, no cached prefix
  std::vector<CalibrationPoint> prefill_cached;  // {new tokens, cached tokens}
  std::vector<CalibrationPoint> decode;          // {batch, context}: one decode step
  // Composable part (`<model>-ops.json`): every GEMM, norm and the LM head for N tokens, no
  // attention. The attention parts are derived from the whole-model tables (see StepTimeModel).
  std::vector<CalibrationPoint> linear;  // {tokens, 0}
};

// Reads `<data_dir>/<gpu>/<model>.json`, `<model>-ops.json` and `<data_dir>/gpus.json` for `name`
// = "<gpu>/<model>". NotFound for an unknown name, InvalidArgument for a malformed file.
Result<Profile> LoadProfile(const std::filesystem::path& data_dir, std::string_view name);

// Every "<gpu>/<model>" under `data_dir` that has both calibration files, sorted.
std::vector<std::string> ListProfiles(const std::filesystem::path& data_dir);

// Bytes vLLM sets aside besides weights and KV cache when it profiles a forward pass of
// `max_num_batched_tokens` tokens: peak activations (MLP gate/up output and attention buffers in
// bf16), the sampler's fp32 logits for `max_num_seqs` rows, and a fixed 1 GiB for CUDA graphs,
// the allocator and NCCL. An estimate: vLLM measures this at start-up.
int64_t EstimateActivationReserve(const Profile& profile, int32_t max_num_batched_tokens,
                                  int32_t max_num_seqs);

// vLLM's `num_gpu_blocks`: floor((memory x utilization - weights - reserve) / (kv/token x
// block_size)), at least 0 (kv_cache_utils.py: get_num_blocks).
int64_t NumGpuBlocks(const Profile& profile, double gpu_memory_utilization,
                     int64_t activation_reserve_bytes, int32_t block_size);

// A prefill chunk in a step: `new_tokens` computed now, after `cached_tokens` already in KV
// (from the prefix cache or earlier chunks).
struct PrefillChunk {
  int32_t new_tokens = 0;
  int32_t cached_tokens = 0;
};

// What a step computes.
struct StepShape {
  std::span<const PrefillChunk> prefills;
  int32_t num_decodes = 0;         // sequences decoding one token each
  int64_t decode_context_sum = 0;  // sum of their context lengths (tokens attended, incl. new)
};

// Step duration on the profiled GPU:
//
//   linear(P + B) + sum_i prefill_attention(n_i, c_i) + decode_attention(B, mean context)
//
// `linear` interpolates the ops table. The attention terms are residuals of the whole-model
// tables, so that a pure step reproduces the measurement exactly at every calibration point:
// prefill_attention(n, c) = prefill_cached(n, c) - linear(n) (prefill(n) when c = 0) and
// decode_attention(B, C) = decode(B, C) - linear(B). Between grid points it interpolates linearly;
// beyond the grid it extrapolates the way the physics goes (see engine/README.md).
class StepTimeModel {
 public:
  explicit StepTimeModel(const Profile& profile);

  Duration StepTime(const StepShape& shape) const;

  // Milliseconds, for tests and tables.
  double StepMillis(const StepShape& shape) const;
  double LinearMillis(int64_t tokens) const;
  double PrefillAttentionMillis(int64_t new_tokens, int64_t cached_tokens) const;
  double DecodeAttentionMillis(int64_t batch, double mean_context) const;

 private:
  struct Curve {  // piecewise linear y(x) over sorted x
    std::vector<double> x, y;
    double At(double v) const;  // linear inside, clamped below, last-segment slope above
  };
  double WholePrefill(double tokens) const;  // the `prefill` table, power-law above its end
  double CachedExtra(double new_tokens, double cached_tokens) const;

  Curve linear_;
  Curve prefill_;           // whole-model prefill(n)
  Curve prefill_residual_;  // prefill(n) - linear(n)
  // Extra cost of attending to a cached prefix: prefill_cached(n, c) - prefill(n), on the grid
  // extra_n_ x extra_c_ (extra_c_[0] = 0 with all zeros), row-major by c.
  std::vector<double> extra_n_, extra_c_, extra_;
  // decode(B, C) - linear(B): one curve in B per measured context C.
  std::vector<double> decode_c_;
  std::vector<Curve> decode_rows_;
};

}  // namespace brix::engine
