// Response bodies and SSE chunks exactly as vLLM writes them (compact JSON, UTF-8, pydantic field
// order, the same null fields).
//
// Shapes, from vLLM main (see README.md for commits):
//  - non-streaming chat / text completion: `JSONResponse(content=response.model_dump())`, i.e.
//    every field including nulls (`chat_completion/api_router.py`);
//  - chat chunks: `model_dump_json(exclude_unset=True)` (`chat_completion/serving.py`): the first
//    chunk per choice has delta {"role":"assistant","content":""} and "prompt_token_ids":null;
//    later chunks carry "token_ids":null in the choice; the final one adds finish_reason and
//    stop_reason;
//  - completion chunks: `model_dump_json(exclude_unset=False)` (`completion/serving.py`): all
//    fields, nulls included;
//  - the usage chunk (`stream_options.include_usage`): "choices":[] and usage, nulls dropped
//    (`exclude_none=True`); then "data: [DONE]\n\n". Every event is "data: <json>\n\n".
// Builders append to a caller-owned string so a stream can reuse one buffer. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace brix::openai {

// Why a choice ended. vLLM also sends "tool_calls" (tool parsers) and "error", not modelled here.
enum class FinishReason { kStop, kLength, kAbort };
std::string_view FinishReasonName(FinishReason reason);  // "stop", "length", "abort"

// vLLM's `stop_reason`: the stop string or token id that matched, else null (EOS or length).
using StopReason = std::variant<std::monostate, std::string, int64_t>;

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // usage.prompt_tokens_details.cached_tokens, sent only with --enable-prompt-tokens-details and
  // a non-zero count; nullopt -> "prompt_tokens_details":null (non-streaming) or absent.
  std::optional<int64_t> cached_tokens;
};

// What every body of one response shares. `id` is complete ("chatcmpl-..." / "cmpl-...");
// `created` is Unix seconds, fixed for a whole stream.
struct ResponseMeta {
  std::string id;
  int64_t created = 0;
  std::string model;  // the served name (or the LoRA name) the request resolved to
};

// "chatcmpl-<request_id>" / "cmpl-<request_id>": vLLM uses the X-Request-Id header if present,
// else the body's `request_id`, else a random uuid4 hex (`OpenAIServing._base_request_id`).
std::string ChatCompletionId(std::string_view request_id);
std::string CompletionId(std::string_view request_id);
// A new random request id in vLLM's format (32 lowercase hex, like uuid4().hex).
std::string NewRequestId();

struct Choice {
  int64_t index = 0;
  std::string text;
  FinishReason finish_reason = FinishReason::kStop;
  StopReason stop_reason;
};

// {"id","object":"chat.completion","created","model","choices":[{"index","message":{"role":
// "assistant","content",...},"logprobs":null,"finish_reason","stop_reason",...}],...,"usage"}
std::string ChatCompletionBody(const ResponseMeta& meta, std::span<const Choice> choices,
                               const Usage& usage);
// {"id","object":"text_completion",...,"choices":[{"index","text","logprobs":null,...}],"usage"}
std::string TextCompletionBody(const ResponseMeta& meta, std::span<const Choice> choices,
                               const Usage& usage);

// ---- SSE ----

// The first chunk of choice `index`: delta {"role":"assistant","content":""}. `usage` is set only
// with continuous_usage_stats (prompt tokens, 0 completion tokens).
void AppendChatRoleChunk(const ResponseMeta& meta, int64_t index, const Usage* usage,
                         std::string* out);
// A content delta; with `finish` it is the choice's last chunk (finish_reason + stop_reason).
// `usage` as above (running totals), or null.
void AppendChatDeltaChunk(const ResponseMeta& meta, int64_t index, std::string_view delta,
                          const FinishReason* finish, const StopReason* stop_reason,
                          const Usage* usage, std::string* out);
// {"id","object":"chat.completion.chunk","created","model","choices":[],"usage":{...}}
void AppendChatUsageChunk(const ResponseMeta& meta, const Usage& usage, std::string* out);

// A completion chunk (text delta; with `finish`, the last one of that choice).
void AppendCompletionChunk(const ResponseMeta& meta, int64_t index, std::string_view text,
                           const FinishReason* finish, const StopReason* stop_reason,
                           const Usage* usage, std::string* out);
void AppendCompletionUsageChunk(const ResponseMeta& meta, const Usage& usage, std::string* out);

// "data: [DONE]\n\n"
void AppendDone(std::string* out);

// ---- Other endpoints ----

struct ModelCard {
  std::string id;
  int64_t created = 0;
  std::optional<std::string> root;       // the model path; the adapter path for a LoRA
  std::optional<std::string> parent;     // null for a base model; the base model for a LoRA
  std::optional<int64_t> max_model_len;  // set for base models, null for LoRA adapters
  std::string permission_id;             // "modelperm-<hex>"; vLLM makes a new one per listing
};
// A base model card / a LoRA adapter card as /v1/models lists them (`openai/models/serving.py`).
ModelCard BaseModelCard(std::string id, std::string root, int64_t max_model_len, int64_t created);
ModelCard LoraModelCard(std::string name, std::string path, std::string parent, int64_t created);
// {"object":"list","data":[{"id","object":"model","created","owned_by":"vllm","root","parent",
// "max_model_len","permission":[{... "object":"model_permission" ...}]}]}
std::string ModelListBody(std::span<const ModelCard> cards);

// {"count":N,"max_model_len":M,"tokens":[...],"token_strs":null|[...]}
std::string TokenizeBody(std::span<const int64_t> tokens, int64_t max_model_len,
                         const std::vector<std::string>* token_strs = nullptr);
// {"prompt":"..."}
std::string DetokenizeBody(std::string_view prompt);
// {"version":"0.x.y"}
std::string VersionBody(std::string_view version);
// The 200 text bodies of the LoRA API (no Content-Type: vLLM returns a bare Response).
std::string LoraLoadedText(std::string_view name);  // Success: LoRA adapter 'a' added successfully.
std::string LoraUnloadedText(
    std::string_view name);  // Success: LoRA adapter 'a' removed successfully.

}  // namespace brix::openai
