// Costs of the per-request and per-token protocol work: parsing a chat body, building one SSE
// content chunk, the gateway's usage rewrite and SSE classification. Run by `make bench`.
#include <benchmark/benchmark.h>

#include <string>

#include "openai/gateway.h"
#include "openai/requests.h"
#include "openai/responses.h"

namespace {

const std::string kChatBody =
    R"({"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"system","content":)"
    R"("You are a helpful assistant."},{"role":"user","content":"Write a haiku about the sea, )"
    R"(and then explain it line by line in plain words."}],"max_tokens":256,"temperature":0.7,)"
    R"("top_p":0.95,"stream":true,"stream_options":{"include_usage":true}})";

void BM_ParseChatRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto r = brix::openai::ParseChatCompletionRequest(kChatBody);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChatBody.size()));
}
BENCHMARK(BM_ParseChatRequest);

void BM_InspectRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto r = brix::openai::InspectRequest(kChatBody);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_InspectRequest);

void BM_RewriteForUsage(benchmark::State& state) {
  const std::string body =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  for (auto _ : state) {
    auto r = brix::openai::RewriteForUsage(body);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RewriteForUsage);

// A streaming chat request with a ~50 KB prompt (a long document to summarise), as the gateway
// rewrites it on the hot path: the edits touch one top-level member, the rest is copied.
std::string LongPromptBody() {
  std::string prompt;
  while (prompt.size() < 50'000) {
    prompt += "The quick brown fox jumps over the lazy dog \\u00e9\\n; \\\"quoted\\\" 3.14159. ";
  }
  return R"({"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"system","content":)"
         R"("You are a helpful assistant."},{"role":"user","content":")" +
         prompt + R"("}],"temperature":0.7,"top_p":0.95,"stream":true})";
}

void BM_RewriteForUsageLongPrompt(benchmark::State& state) {
  const std::string body = LongPromptBody();
  for (auto _ : state) {
    auto r = brix::openai::RewriteForUsage(body);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_RewriteForUsageLongPrompt);

void BM_WithMaxTokensLongPrompt(benchmark::State& state) {
  const std::string body = LongPromptBody();
  for (auto _ : state) {
    auto r = brix::openai::WithMaxTokens(body, 256);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_WithMaxTokensLongPrompt);

void BM_ChatDeltaChunk(benchmark::State& state) {
  const brix::openai::ResponseMeta meta{"chatcmpl-0123456789abcdef0123456789abcdef", 1763800000,
                                        "meta-llama/Llama-3.1-8B-Instruct"};
  std::string out;
  for (auto _ : state) {
    out.clear();
    brix::openai::AppendChatDeltaChunk(meta, 0, " ocean", nullptr, nullptr, nullptr, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ChatDeltaChunk);

void BM_ClassifySseChunk(benchmark::State& state) {
  const brix::openai::ResponseMeta meta{"chatcmpl-r", 1763800000, "m"};
  std::string chunk;
  brix::openai::AppendChatDeltaChunk(meta, 0, " ocean", nullptr, nullptr, nullptr, &chunk);
  const std::string data = chunk.substr(6, chunk.size() - 8);
  for (auto _ : state) benchmark::DoNotOptimize(brix::openai::ClassifySseData(data));
}
BENCHMARK(BM_ClassifySseChunk);

}  // namespace
