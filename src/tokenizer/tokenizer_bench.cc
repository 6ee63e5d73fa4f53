// Tokenizer benchmarks on the real Llama 3 and Qwen 3 files (scripts/fetch-tokenizers): encode
// throughput (bytes/s of input, one thread and two), decode, and loading tokenizer.json.
//
// Inputs, overridable by environment variables (tests/tokenizer/bench.sh sets them so that the
// JavaScript reference measures the same text):
//   BRIX_TOKENIZER_CACHE  folder with llama3/ and qwen3/   (default <source>/.cache/tokenizers)
//   BRIX_BENCH_PROSE      English prose                    (default
//   tests/tokenizer/bench/prose.txt) BRIX_BENCH_CODE       source code (default every .h and .cc
//   under src/,
//                                                           sorted by path, concatenated)
// Benchmarks whose tokenizer is missing are skipped with a message saying how to fetch it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using brix::tokenizer::TokenId;
using brix::tokenizer::Tokenizer;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path CacheDir() { return EnvOr("BRIX_TOKENIZER_CACHE", BRIX_SOURCE_DIR "/.cache/tokenizers"); }

const std::string& Text(const std::string& kind) {
  static std::mutex mu;
  static std::map<std::string, std::string> texts;
  std::lock_guard lock(mu);
  auto it = texts.find(kind);
  if (it != texts.end()) return it->second;
  std::string text;
  if (kind == "prose") {
    text = ReadFile(EnvOr("BRIX_BENCH_PROSE", BRIX_SOURCE_DIR "/tests/tokenizer/bench/prose.txt"));
  } else if (const char* file = std::getenv("BRIX_BENCH_CODE"); file != nullptr && *file != '\0') {
    text = ReadFile(file);
  } else {
    std::vector<std::string> files;
    const fs::path root = BRIX_SOURCE_DIR;
    for (const auto& e : fs::recursive_directory_iterator(root / "src")) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".h" || ext == ".cc")) {
        files.push_back(fs::relative(e.path(), root).generic_string());
      }
    }
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) text += ReadFile(root / f);
  }
  return texts.emplace(kind, std::move(text)).first->second;
}

// The tokenizer `name` from the cache, loaded once; null (with *error set) if unavailable.
std::shared_ptr<const Tokenizer> Load(const std::string& name, std::string* error) {
  static std::mutex mu;
  static std::map<std::string, brix::Result<std::shared_ptr<const Tokenizer>>> loaded;
  std::lock_guard lock(mu);
  auto it = loaded.find(name);
  if (it == loaded.end()) {
    it = loaded.emplace(name, Tokenizer::LoadDirectory(CacheDir() / name)).first;
  }
  if (!it->second) {
    *error = it->second.error().message + " (run scripts/fetch-tokenizers)";
    return nullptr;
  }
  return *it->second;
}

void BM_Encode(benchmark::State& state, const std::string& name, const std::string& kind) {
  std::string error;
  auto tok = Load(name, &error);
  const std::string& text = Text(kind);
  if (!tok || text.empty()) {
    state.SkipWithError(tok ? ("no " + kind + " text").c_str() : error.c_str());
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tok->Encode(text);
    tokens = ids->size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kAvgThreads);
  state.counters["bytes_per_token"] =
      benchmark::Counter(static_cast<double>(text.size()) / static_cast<double>(tokens),
                         benchmark::Counter::kAvgThreads);
}

void BM_Decode(benchmark::State& state, const std::string& name, const std::string& kind) {
  std::string error;
  auto tok = Load(name, &error);
  if (!tok) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::vector<TokenId> ids = *tok->Encode(Text(kind));
  for (auto _ : state) {
    auto text = tok->Decode(ids);
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Text(kind).size()));
}

void BM_Load(benchmark::State& state, const std::string& name) {
  const std::string json = ReadFile(CacheDir() / name / "tokenizer.json");
  const std::string config = ReadFile(CacheDir() / name / "tokenizer_config.json");
  if (json.empty()) {
    state.SkipWithError(
        ("no " + (CacheDir() / name).string() + "/tokenizer.json (run scripts/fetch-tokenizers)")
            .c_str());
    return;
  }
  for (auto _ : state) {
    auto tok = Tokenizer::FromJson(json, config);
    if (!tok) state.SkipWithError(tok.error().message.c_str());
    benchmark::DoNotOptimize(tok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}

const bool kRegistered = [] {
  for (const std::string name : {"llama3", "qwen3"}) {
    for (const std::string kind : {"prose", "code"}) {
      benchmark::RegisterBenchmark(("BM_Encode/" + name + "/" + kind).c_str(), BM_Encode, name,
                                   kind);
    }
    benchmark::RegisterBenchmark(("BM_Decode/" + name + "/prose").c_str(), BM_Decode, name,
                                 std::string("prose"));
    benchmark::RegisterBenchmark(("BM_Load/" + name).c_str(), BM_Load, name)
        ->Unit(benchmark::kMillisecond);
  }
  // Encoding from two threads at once: the tokenizer is shared, scratch space is per thread.
  benchmark::RegisterBenchmark("BM_EncodeShared/llama3/prose", BM_Encode, std::string("llama3"),
                               std::string("prose"))
      ->Threads(2)
      ->UseRealTime();
  return true;
}();

}  // namespace
