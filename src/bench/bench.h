// The `brix bench` load generator: replays a Workload against any OpenAI-compatible server (Brix's
// gateway, a bare engine, another gateway) open-loop, and records what each request saw.
//
//   Result<Target> target = ParseTarget("http://127.0.0.1:8000");
//   Runner runner(options, std::move(workload), prompt_text, chat_format);
//   runner.Start();
//   while (!runner.WaitFor(250ms)) ShowProgress(runner.progress());   // Stop() on Ctrl-C
//   Results results = runner.Finish();
//
// Open loop: a session's first turn goes out at its arrival time whatever the server is doing;
// each request has its own connection when needed (connections are pooled and reused once
// idle), so a slow server shows up as latency, not as a lower offered rate. Later turns of a
// session go out think_s after the previous answer ended, carrying the conversation so far.
//
// Every request is streamed (stream_options.include_usage) with max_tokens from the workload and
// ignore_eos, and measured: time to the first chunk carrying output, gaps between such chunks,
// end-to-end time, usage, HTTP status, the gateway's target-pod and x-brix-attempt-count headers.
//
// Threads: `workers` threads, each with its own io_context and HTTP client, sessions dealt out
// round-robin; Start/progress/Stop/WaitFor/Finish are for one controlling thread (progress() and
// Stop() may be called from any).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "report/histogram.h"
#include "report/report.h"
#include "tokenizer/chat.h"
#include "workload/prompt_text.h"
#include "workload/workload.h"

namespace brix::bench {

// An http:// base URL: host, port and an optional path prefix the API paths are appended to.
struct Target {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // "" or "/prefix" (no trailing slash)

  std::string ToString() const;  // "http://host:port/prefix"
};

// InvalidArgument naming what is wrong ("https is not supported", "bad port '99999'", ...).
Result<Target> ParseTarget(std::string_view url);

enum class Api { kChat, kCompletions };
Result<Api> ParseApi(std::string_view name);  // "chat" or "completions"

struct Options {
  Target target;
  std::string model;
  Api api = Api::kChat;
  std::vector<std::pair<std::string, std::string>> headers;  // added to every request
  std::chrono::milliseconds request_timeout = std::chrono::minutes(10);
  int workers = 1;
};

// Counts so far; every field is read atomically, so a snapshot may be off by a request or two.
struct Progress {
  size_t total = 0;  // requests the workload holds (turns of every session)
  size_t sent = 0, ok = 0, failed = 0, aborted = 0;
  size_t in_flight = 0;
  double elapsed_s = 0;
  double last_arrival_s = 0;  // the last session's start
};

// "[=====>      ]  120/339 sent  98 ok  0 failed  22 in flight  45 s / 120 s"; width = bar cells.
std::string FormatProgress(const Progress& progress, int width);

struct Results {
  std::vector<report::RequestRecord> records;  // one per turn, by session then turn
  report::LatencyHistogram itl;                // every gap between output chunks
  bool interrupted = false;
};

class Runner {
 public:
  // `text` must outlive the runner. With the chat API, `chat_overhead_tokens` (see
  // ChatTemplateOverhead) are taken off the end of each session's first message, so that
  // prompt_tokens at the engine equals the workload's count.
  Runner(Options options, workload::Workload workload, const workload::PromptText& text,
         size_t chat_overhead_tokens);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void Start();
  Progress progress() const;
  // No further requests go out; requests in flight are aborted (recorded as aborted). Idempotent.
  void Stop();
  // True once every session has finished (or been stopped).
  bool WaitFor(std::chrono::milliseconds timeout);
  // Joins the workers and returns what they recorded. Call once, after Start().
  Results Finish();

 private:
  struct Shared;
  class Worker;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// The tokens the chat serialisation (tokenizer/chat.h, what brix sim counts) adds around a
// single user message, generation prompt included: 10 for Llama 3's format.
Result<size_t> ChatTemplateOverhead(const tokenizer::Tokenizer& tokenizer,
                                    const workload::PromptText& text);

// GET {target}/v1/models: the ids it serves. Unavailable with a sentence a user can act on when
// the target cannot be reached or does not answer like an OpenAI server.
Result<std::vector<std::string>> ListModels(const Target& target,
                                            std::chrono::milliseconds timeout);

// Engines' own time-to-first-token histograms (vLLM's or SGLang's /metrics), summed over the
// given engines, for comparing the client's view with the servers'.
class ServerTtft {
 public:
  // Scrapes every URL ("http://host:port", /metrics appended) as the baseline.
  static Result<ServerTtft> Begin(std::vector<Target> engines, std::chrono::milliseconds timeout);
  // Scrapes again and describes the observations made since Begin().
  Result<report::ServerSide> End(std::chrono::milliseconds timeout) const;

 private:
  struct Baseline;
  std::vector<Target> engines_;
  std::shared_ptr<const Baseline> baseline_;
};

}  // namespace brix::bench
