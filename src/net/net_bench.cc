// Throughput of the parsing hot paths: SSE events from an upstream, and server requests.
#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <string>
#include <string_view>

#include "base/check.h"
#include "net/internal/request_parser.h"
#include "net/sse.h"

namespace brix::net {
namespace {

// A vLLM chat completion stream: `events` chunks of ~200 bytes each, then [DONE].
std::string VllmStream(int events) {
  std::string stream;
  for (int i = 0; i < events; ++i) {
    AppendSseEvent(
        &stream, R"({"id":"chatcmpl-4f1c2a","object":"chat.completion.chunk","created":1718000000,)"
                 R"("model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":)"
                 R"({"content":" token"},"logprobs":null,"finish_reason":null}]})");
  }
  AppendSseEvent(&stream, "[DONE]");
  return stream;
}

// Feeds the stream in reads of state.range(0) bytes, as a socket would deliver it.
void BM_SseParse(benchmark::State& state) {
  const std::string stream = VllmStream(1000);
  const size_t read_size = static_cast<size_t>(state.range(0));
  int64_t events = 0;
  for (auto _ : state) {
    SseParser parser;
    for (size_t offset = 0; offset < stream.size(); offset += read_size) {
      parser.Feed(std::string_view(stream).substr(offset, read_size));
      while (true) {
        auto next = parser.Next();
        if (!next || !*next) break;
        benchmark::DoNotOptimize((*next)->data.data());
        ++events;
      }
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_SseParse)->Arg(64)->Arg(1024)->Arg(16384);

void BM_SseFormat(benchmark::State& state) {
  const std::string data =
      R"({"id":"chatcmpl-4f1c2a","object":"chat.completion.chunk","choices":[{"index":0,)"
      R"("delta":{"content":" token"},"finish_reason":null}]})";
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendSseEvent(&out, data);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SseFormat);

void ParseRequests(benchmark::State& state, const std::string& request) {
  internal::RequestParser parser({});
  boost::beast::flat_buffer buffer;
  for (auto _ : state) {
    auto space = buffer.prepare(request.size());
    boost::asio::buffer_copy(space, boost::asio::buffer(request));
    buffer.commit(request.size());
    parser.Start();
    BRIX_CHECK(parser.Parse(buffer) == internal::ParseStatus::kComplete);
    Request parsed = parser.Release();
    benchmark::DoNotOptimize(parsed.body().data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.size()));
  state.SetItemsProcessed(state.iterations());
}

// What wrk sends.
void BM_RequestParseGet(benchmark::State& state) {
  ParseRequests(state, "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
}
BENCHMARK(BM_RequestParseGet);

// What the OpenAI SDK sends for a short chat completion.
void BM_RequestParseChat(benchmark::State& state) {
  const std::string body =
      R"({"model":"meta-llama/Llama-3.1-8B-Instruct","stream":true,"max_tokens":256,)"
      R"("messages":[{"role":"system","content":"You are a helpful assistant."},)"
      R"({"role":"user","content":")" +
      std::string(600, 'x') + R"("}]})";
  ParseRequests(state,
                "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway:8080\r\n"
                "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nAccept: "
                "application/json\r\nContent-Type: application/json\r\nUser-Agent: OpenAI/Python "
                "1.40.0\r\nAuthorization: Bearer sk-0123456789abcdef\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
}
BENCHMARK(BM_RequestParseChat);

}  // namespace
}  // namespace brix::net
