// `brix sim`: a simulated vLLM server on the real clock (sim/sim.h). Flags carry vLLM's names
// where vLLM has the same knob.
#include <fmt/core.h>
#include <pthread.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "cmd/commands.h"
#include "config/units.h"
#include "sim/sim.h"

namespace brix::cmd {
namespace {

struct SimFlags {
  sim::SimOptions options;
  std::string data_dir;
  std::string tokenizer_dir;
  std::string startup_delay = "0s";
  std::string lora_load_time = "20ms";
  std::vector<std::string> lora_modules;
  bool no_prefix_caching = false;
};

// The tokenizer directory that scripts/fetch-tokenizers fills for a profile's model family.
std::string DefaultTokenizer(const std::string& profile) {
  const std::string cache = BRIX_DEFAULT_TOKENIZER_CACHE;
  return cache + (profile.find("qwen") != std::string::npos ? "/qwen3" : "/llama3");
}

int RunSim(SimFlags& f) {
  sim::SimOptions& o = f.options;
  auto delay = config::ParseDuration(f.startup_delay);
  auto load = config::ParseDuration(f.lora_load_time);
  if (!delay || !load) {
    fmt::print(stderr, "brix sim: {}\n",
               !delay ? "--startup-delay: " + delay.error().message
                      : "--lora-load-time: " + load.error().message);
    return kExitUsage;
  }
  o.startup_delay = std::chrono::duration_cast<std::chrono::milliseconds>(*delay);
  o.engine.lora_load_time = *load;
  o.engine.enable_prefix_caching = !f.no_prefix_caching;
  for (const std::string& m : f.lora_modules) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
      fmt::print(stderr, "brix sim: --lora-modules: '{}' is not name=path\n", m);
      return kExitUsage;
    }
    o.lora_modules.emplace_back(m.substr(0, eq), m.substr(eq + 1));
  }
  const char* env_data = std::getenv("BRIX_DATA_DIR");
  o.data_dir = !f.data_dir.empty()   ? f.data_dir
               : env_data != nullptr ? std::string(env_data) + "/profiles"
                                     : std::string(BRIX_DEFAULT_DATA_DIR);
  o.tokenizer_dir = f.tokenizer_dir.empty() ? DefaultTokenizer(o.profile) : f.tokenizer_dir;

  RaiseOpenFileLimit();
  ShutdownSignals signals;

  auto s = sim::Sim::Create(o);
  if (!s) {
    fmt::print(stderr, "brix sim: {}\n", s.error().message);
    return kExitFailure;
  }
  auto port = (*s)->Start();
  if (!port) {
    fmt::print(stderr, "brix sim: listening on {}:{}: {}\n", o.server.address, o.server.port,
               port.error().message);
    return kExitFailure;
  }
  fmt::print("brix sim: serving {} ({}, {} KV blocks, max_model_len {}) on http://{}:{}\n",
             o.served_model_name.empty() ? o.model : o.served_model_name, o.profile,
             (*s)->num_gpu_blocks(), (*s)->max_model_len(), o.server.address, *port);
  std::fflush(stdout);
  signals.Wait("sim");
  (*s)->Stop();
  return kExitOk;
}

}  // namespace

Command AddSimCommand(CLI::App& root) {
  auto flags = std::make_shared<SimFlags>();
  sim::SimOptions& o = flags->options;
  CLI::App* app = root.add_subcommand(
      "sim", "Run a simulated vLLM engine (OpenAI API, /metrics) with H100/H200-calibrated timing");
  app->add_option("--model", o.model, "model name or path, as vLLM's --model")
      ->capture_default_str();
  app->add_option("--served-model-name", o.served_model_name,
                  "name clients use (default: --model)");
  app->add_option("--profile", o.profile, "calibration profile <gpu>/<model>")
      ->capture_default_str();
  app->add_option("--data-dir", flags->data_dir, "directory of profiles (default: data/profiles)");
  app->add_option("--tokenizer", flags->tokenizer_dir,
                  "directory with tokenizer.json (default: .cache/tokenizers/<family>)");
  app->add_option("--host", o.server.address, "address to listen on")->capture_default_str();
  app->add_option("--port", o.server.port, "port (0 = any free port)")->capture_default_str();
  app->add_option("--workers", o.server.workers, "HTTP worker threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app->add_option("--max-connections", o.server.max_connections, "open client connections")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  app->add_option("--max-num-seqs", o.engine.max_num_seqs)
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app->add_option("--max-num-batched-tokens", o.engine.max_num_batched_tokens)
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  app->add_option("--block-size", o.engine.block_size)->capture_default_str();
  app->add_option("--gpu-memory-utilization", o.engine.gpu_memory_utilization)
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  app->add_option("--max-model-len", o.engine.max_model_len, "0 = the model's")
      ->check(CLI::Range(0, 1 << 24));
  app->add_option("--num-gpu-blocks-override", o.engine.num_gpu_blocks_override)
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app->add_flag("--no-enable-prefix-caching", flags->no_prefix_caching);
  app->add_flag("--enable-lora", o.engine.enable_lora,
                "serve LoRA adapters (and the runtime load/unload API)");
  app->add_option("--max-loras", o.engine.max_loras)
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app->add_option("--lora-modules", flags->lora_modules, "adapters at start: name=path ...");
  app->add_option("--lora-load-time", flags->lora_load_time,
                  "time to load an adapter into a GPU slot")
      ->capture_default_str();
  app->add_option("--mean-output-tokens", o.mean_output_tokens,
                  "mean answer length without ignore_eos")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app->add_option("--seed", o.seed, "seed for requests without one (0 = random)");
  app->add_flag("--enable-prompt-tokens-details", o.enable_prompt_tokens_details);
  app->add_option("--api-key", o.api_key, "require this bearer token on /v1 paths");
  app->add_option("--startup-delay", flags->startup_delay, "model load time before listening")
      ->capture_default_str();
  app->add_option("--slowdown", o.faults.slowdown, "fault: step times x this")
      ->check(CLI::Range(1e-3, 1e6));
  app->add_option("--error-rate", o.faults.error_rate, "fault: fraction of requests that fail")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--error-status", o.faults.error_status, "fault: their HTTP status")
      ->check(CLI::Range(400, 599));
  app->add_option("--crash-after", o.faults.crash_after,
                  "fault: exit when this many generation requests have arrived (0 = never)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app->add_flag("--hang", o.faults.hang, "fault: the engine never steps");
  app->add_option("--kv-cache-blocks", o.faults.kv_cache_blocks,
                  "fault: KV cache size in blocks (0 = from the profile)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  return Command{app, [flags] { return RunSim(*flags); }};
}

}  // namespace brix::cmd
