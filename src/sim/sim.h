// Sim: `brix sim`, a simulated vLLM server. vLLM's OpenAI-compatible HTTP surface (openai/) over
// the engine model (engine/) running on the real clock (EngineLoop), with the real tokenizer,
// vLLM's /metrics, and fault injection.
//
//   SimOptions options;                  // flags of `brix sim`
//   Result<std::unique_ptr<Sim>> sim = Sim::Create(options);
//   Result<uint16_t> port = (*sim)->Start();
//   ...
//   (*sim)->Stop();                      // drains streams, stops the engine
//
// Endpoints: POST /v1/chat/completions, /v1/completions, /tokenize, /detokenize; GET /v1/models,
// /health, /version, /metrics; with --enable-lora POST /v1/load_lora_adapter and
// /v1/unload_lora_adapter; GET and POST /admin/faults (Brix's own, not vLLM's).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"
#include "net/server.h"

namespace brix::sim {

// Faults, settable by flag and at run time (POST /admin/faults).
struct Faults {
  double slowdown = 1.0;    // step times x this (> 0)
  double error_rate = 0.0;  // fraction of generation requests answered with error_status
  int error_status = 500;   // 500 (InternalServerError) or another 4xx/5xx
  // Exit the process (as a crashed engine would) when generation request crash_after + 1
  // arrives; 0 = never. Requests in flight are lost, as they would be.
  int64_t crash_after = 0;
  bool hang = false;  // the engine stops stepping; requests wait, /health still answers
  // KV cache size in blocks; 0 = as sized from the profile (or --num-gpu-blocks-override).
  int64_t kv_cache_blocks = 0;
};

struct SimOptions {
  // `--model`: the model path vLLM would load; also the served name unless served_model_name.
  std::string model = "meta-llama/Llama-3.1-8B-Instruct";
  std::string served_model_name;
  // "<gpu>/<model>" under data_dir, e.g. "h100/llama-3.1-8b".
  std::string profile = "h100/llama-3.1-8b";
  std::filesystem::path data_dir;
  // A directory with tokenizer.json (and tokenizer_config.json).
  std::filesystem::path tokenizer_dir;
  engine::EngineConfig engine;
  // Adapters present at start (vLLM's --lora-modules name=path).
  std::vector<std::pair<std::string, std::string>> lora_modules;
  // Mean natural answer length in tokens for requests without ignore_eos (exponential).
  int32_t mean_output_tokens = 256;
  // Seed for requests that send none (answers then differ per request, as in vLLM).
  uint64_t seed = 0;
  // Adds usage.prompt_tokens_details.cached_tokens (vLLM's --enable-prompt-tokens-details).
  bool enable_prompt_tokens_details = false;
  // When set, /v1 paths need "Authorization: Bearer <api_key>" (vLLM's --api-key).
  std::string api_key;
  // What /version reports.
  std::string vllm_version = "0.11.0";
  // Sleep this long before listening, as a model load would take.
  std::chrono::milliseconds startup_delay{0};
  Faults faults;
  net::ServerConfig server;
};

class Sim {
 public:
  // Loads the profile and tokenizer, sizes the engine, registers metrics. Errors name the flag.
  static Result<std::unique_ptr<Sim>> Create(SimOptions options);
  ~Sim();

  // Listens (after startup_delay) and returns the port.
  Result<uint16_t> Start();
  // Drains in-flight requests (streams end), then stops the engine. Idempotent.
  void Stop();

  // The KV cache size the engine started with, in blocks, and tokens per block.
  int64_t num_gpu_blocks() const;
  int32_t max_model_len() const;

  struct Impl;

 private:
  explicit Sim(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brix::sim
