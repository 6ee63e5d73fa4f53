// What a proxying gateway needs from a vLLM request and stream without parsing them fully.
//
// The gateway reads `model` and the streaming flags to route and account a request, and always
// wants a final usage chunk from the engine. It therefore forces stream_options.include_usage on
// for streaming requests (RewriteForUsage) and, when the client had not asked for usage itself,
// strips that extra chunk from the stream (ClassifySseData says which event it is) so the client
// sees exactly what vLLM would have sent it. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "openai/api_error.h"
#include "openai/responses.h"

namespace brix::openai {

// A top-level `int | None` field as vLLM's pydantic model reads it.
struct IntField {
  bool set = false;              // present and not null
  std::optional<int64_t> value;  // when set, its value in pydantic's lax mode (100, 100.0, "100",
                                 // true); nullopt when vLLM rejects it ("x", 1.5, [])
  bool operator==(const IntField&) const = default;
};

struct RequestInfo {
  std::optional<std::string> model;  // absent, null or not a string -> nullopt
  bool stream = false;               // `stream` as pydantic reads it ("true", 1, ... count)
  // vLLM's should_include_usage: stream_options present (even {}) with include_usage not
  // false/null. Meaningful only when `stream`.
  bool include_usage = false;
  bool continuous_usage = false;  // include_usage && continuous_usage_stats
  IntField max_tokens;
  IntField max_completion_tokens;
  bool operator==(const RequestInfo&) const = default;
};

// The output cap a request asks vLLM for.
struct OutputCap {
  // Chat: max_completion_tokens when set, else max_tokens; nullopt when neither is set (the
  // context length decides). Completions: max_tokens, 16 when unset (vLLM's default; completions
  // have no max_completion_tokens).
  std::optional<int64_t> tokens;
  // False when one of those fields holds what vLLM rejects: it answers 400 itself, so the
  // gateway should neither judge nor rewrite the cap.
  bool valid = true;
};
OutputCap RequestedOutputCap(const RequestInfo& info, bool chat);

// Reads the routing fields of a chat or completions body. Fails (with vLLM's pydantic-style
// error for bad JSON or a non-object body) only when vLLM would fail before reading any field.
ApiResult<RequestInfo> InspectRequest(std::string_view body);

// InspectRequest() by parsing the whole body into a document: what InspectRequest() falls back
// to when its event-driven reading refuses a body, and the reference the tests and the fuzzer
// compare it with.
ApiResult<RequestInfo> InspectRequestWithDocument(std::string_view body);

struct UsageRewrite {
  std::string body;          // the body to send upstream
  bool strip_usage = false;  // the client did not ask for usage: drop the usage-only chunk
};

// For a streaming request, sets stream_options.include_usage = true (keeping other keys, and
// turning continuous_usage_stats off when the client had not enabled usage, so no per-chunk usage
// appears that vLLM would not have sent). Non-streaming or unparsable bodies, and bodies whose
// stream_options is not an object, pass through unchanged (vLLM will answer them itself).
//
// The body is edited as text: every top-level stream_options member (repeated, or with its key
// escaped) is replaced by one, whose other members keep their text; every other byte stays as the
// client sent it (numbers, escapes, key order), but for the whitespace between top-level members,
// which becomes a single comma.
UsageRewrite RewriteForUsage(std::string_view body);

// The body with max_tokens set to `n` (for a request that set no cap; other fields kept). A body
// that is not a JSON object comes back unchanged. Edited as text, as RewriteForUsage(): every
// top-level max_tokens member is replaced by one.
std::string WithMaxTokens(std::string_view body, int64_t n);

enum class SseEventKind {
  kChunk,      // a completion/chat chunk with choices (forward)
  kUsageOnly,  // "choices":[] with usage: the final usage chunk
  kDone,       // [DONE]
  kError,      // {"error":{...}} sent mid-stream
  kOther,      // anything else (forward untouched)
};

// Classifies the payload of one SSE `data:` field (without "data: " and the blank line). For
// kUsageOnly, *usage (if non-null) receives the counts.
SseEventKind ClassifySseData(std::string_view data, Usage* usage = nullptr);

// The usage object of any chunk that carries one (usage-only or continuous usage), else nullopt.
std::optional<Usage> ReadChunkUsage(std::string_view data);

// The top-level usage of a whole (non-streamed) completion, chat or embedding response, without
// parsing the rest: vLLM writes "usage" after "choices"/"data", so the last `"usage":{` in the
// body that is not inside a string is the top-level one; only that object is parsed. Falls back
// to a full parse when the shortcut finds nothing. Nullopt when the body has no usage.
std::optional<Usage> ReadResponseUsage(std::string_view body);

}  // namespace brix::openai
