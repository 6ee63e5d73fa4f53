// Parsing and validation of the request bodies of vLLM's OpenAI-compatible API, with vLLM's own
// error for every rejected body.
//
// Two stages, as in vLLM:
//  1. Parse*Request: what FastAPI + pydantic do before vLLM's handler runs. Bad JSON, wrong types
//     and the request models' `model_validator(mode="before")` checks fail with 400, type
//     "Bad Request", and pydantic's error list as the message ("1 validation error:\n  {...}").
//     Unknown fields are accepted and ignored (OpenAIBaseModel has extra="allow").
//  2. ResolveGeneration: what the serving code checks once the prompt is tokenised (context
//     length, max_tokens, SamplingParams._verify_args); fails with 400 "BadRequestError".
// The model check (404, api_error.h ModelNotFound) sits between the two; `model` is optional in
// every request and an absent model means the first served model.
//
// Sources: vllm/entrypoints/openai/chat_completion/protocol.py, completion/protocol.py,
// serve/tokenize/protocol.py, serve/lora/protocol.py, renderers/params.py, sampling_params.py.
// Stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openai/api_error.h"

namespace brix::openai {

// One chat message. `content` is the text: a string content as is, an array of
// {"type":"text","text":...} parts joined with "\n" (vLLM's string content format), and "" for a
// null content (assistant messages with tool calls).
struct ChatMessage {
  std::string role;
  std::string content;
};

// `stream_options` as sent. vLLM's StreamOptions defaults include_usage to *true* when the object
// is present at all; a JSON null inside it reads as false.
struct StreamOptions {
  bool include_usage = true;
  bool continuous_usage_stats = false;
};

// The fields of a request that shape generation; shared by chat and completions.
struct SamplingFields {
  std::optional<int64_t> n;           // null or absent -> 1
  std::optional<double> temperature;  // absent -> 1.0 (vLLM default)
  std::optional<double> top_p;        // absent -> 1.0
  std::optional<int64_t> top_k;       // absent -> 0 (disabled)
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  std::optional<int64_t> seed;
  std::vector<std::string> stop;  // `stop` as a string or an array of strings
  std::vector<int64_t> stop_token_ids;
  bool ignore_eos = false;
  int64_t min_tokens = 0;
};

struct ChatCompletionRequest {
  std::optional<std::string> model;
  std::vector<ChatMessage> messages;
  std::optional<int64_t> max_tokens;             // deprecated alias
  std::optional<int64_t> max_completion_tokens;  // wins over max_tokens when set
  bool stream = false;
  std::optional<StreamOptions> stream_options;
  SamplingFields sampling;
  bool logprobs = false;
  bool add_generation_prompt = true;
  bool add_special_tokens = false;
  bool echo = false;
  bool return_token_ids = false;
  int64_t priority = 0;
  std::optional<std::string> request_id;  // vLLM's `request_id` extra field
  std::optional<std::string> cache_salt;

  // The requested output budget (max_completion_tokens, else max_tokens) and the parameter name
  // vLLM's messages use for it.
  std::optional<int64_t> RequestedMaxTokens() const;
  std::string_view MaxTokensParam() const;
  // Whether the stream ends with a usage chunk / every chunk carries usage
  // (`api_utils.py::should_include_usage`, without --enable-force-include-usage).
  bool IncludeUsage() const;
  bool ContinuousUsage() const;
};

// One completions prompt: text, or token ids when the request sent ids.
struct CompletionPrompt {
  bool is_tokens = false;
  std::string text;
  std::vector<int64_t> token_ids;
};

struct CompletionRequest {
  std::optional<std::string> model;
  // `prompt` as a string, [string, ...], [int, ...] or [[int, ...], ...]. vLLM runs every prompt
  // of a batch as its own request; choice index = prompt_index * n + i.
  std::vector<CompletionPrompt> prompts;
  int64_t max_tokens = 16;  // vLLM's default; JSON null also means 16
  bool stream = false;
  std::optional<StreamOptions> stream_options;
  SamplingFields sampling;
  std::optional<int64_t> logprobs;
  bool echo = false;
  bool add_special_tokens = true;
  bool return_token_ids = false;
  int64_t priority = 0;
  std::optional<std::string> request_id;
  std::optional<std::string> cache_salt;

  bool IncludeUsage() const;
  bool ContinuousUsage() const;
};

// /tokenize: either a prompt or chat messages (vLLM picks by the presence of `messages`).
struct TokenizeRequest {
  std::optional<std::string> model;
  bool is_chat = false;
  std::string prompt;                 // when !is_chat
  std::vector<ChatMessage> messages;  // when is_chat
  bool add_special_tokens = true;     // default true for prompt, false for messages
  bool add_generation_prompt = true;  // messages only
  bool return_token_strs = false;
};

struct DetokenizeRequest {
  std::optional<std::string> model;
  std::vector<int64_t> tokens;  // each >= 0
};

struct LoadLoraRequest {
  std::string lora_name;
  std::string lora_path;
  bool load_inplace = false;
};

struct UnloadLoraRequest {
  std::string lora_name;
  std::optional<int64_t> lora_int_id;
};

ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(std::string_view body);
ApiResult<CompletionRequest> ParseCompletionRequest(std::string_view body);
ApiResult<TokenizeRequest> ParseTokenizeRequest(std::string_view body);
ApiResult<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body);
// Pydantic-level checks only; empty names/paths are accepted here and rejected by
// ValidateLoadLora / ValidateUnloadLora, as vLLM's serving code does.
ApiResult<LoadLoraRequest> ParseLoadLoraRequest(std::string_view body);
ApiResult<UnloadLoraRequest> ParseUnloadLoraRequest(std::string_view body);

// The serving-level checks of /v1/load_lora_adapter and /v1/unload_lora_adapter, given whether
// the adapter is loaded now. Returns the error vLLM would send, or nullopt to go ahead.
std::optional<ApiError> ValidateLoadLora(const LoadLoraRequest& request, bool already_loaded);
std::optional<ApiError> ValidateUnloadLora(const UnloadLoraRequest& request, bool loaded);

// What vLLM's serving code settles once the prompt length is known.
struct GenerationPlan {
  int64_t max_tokens = 0;  // tokens to generate at most (>= 1)
  int64_t min_tokens = 0;
  int64_t n = 1;
  bool ignore_eos = false;
};

// Checks, in vLLM's order: max output tokens <= max_model_len (TokenizeParams), prompt fits
// (ContextLengthExceeded, `prompt_truncated` when the count is vLLM's truncated max_input+1),
// max_tokens = min(max_model_len - prompt, requested) (api_utils.get_max_tokens; chat requests
// without a limit get the rest of the context), then SamplingParams._verify_args (n, penalties,
// temperature, top_p, top_k, max_tokens >= 1, min_tokens, stop strings). `requested_max_tokens` is
// the request's limit or nullopt; `max_tokens_param` names it in messages.
ApiResult<GenerationPlan> ResolveGeneration(const SamplingFields& sampling,
                                            std::optional<int64_t> requested_max_tokens,
                                            std::string_view max_tokens_param,
                                            int64_t prompt_tokens, int64_t max_model_len,
                                            bool prompt_truncated = false);

// Convenience overloads for the two generation requests.
ApiResult<GenerationPlan> ResolveGeneration(const ChatCompletionRequest& request,
                                            int64_t prompt_tokens, int64_t max_model_len);
ApiResult<GenerationPlan> ResolveGeneration(const CompletionRequest& request, int64_t prompt_tokens,
                                            int64_t max_model_len);

}  // namespace brix::openai
