// ApiError: an error response exactly as vLLM's OpenAI-compatible server sends it, and the
// constructors for every error this component reproduces.
//
// vLLM (current main, `vllm/entrypoints/serve/engine/protocol.py::ErrorInfo/ErrorResponse`)
// answers every failed request with
//
//   {"error":{"message":"...","type":"BadRequestError","param":null,"code":400}}
//
// `type` is vLLM's, not OpenAI's: "BadRequestError", "NotFoundError", "InvalidUserInput",
// "InternalServerError", and the HTTP reason phrase ("Bad Request") for request-validation
// failures that FastAPI/pydantic raise before vLLM's handler runs. `code` is the HTTP status.
// vLLM <= ~0.10 sent a flat {"object":"error","message",...}; ParseErrorBody accepts both.
//
// This is deliberately not net/http_status.h's mapping: that one serves Brix's own endpoints with
// OpenAI's error types, this one reproduces vLLM byte for byte. Pure values; any thread.
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace brix::openai {

struct ApiError {
  int status = 400;                  // HTTP status; also the body's `code`
  std::string type;                  // vLLM's error type, e.g. "BadRequestError"
  std::string message;               // exactly as vLLM words it
  std::optional<std::string> param;  // the offending request field, or null

  friend bool operator==(const ApiError&, const ApiError&) = default;
};

// Result of a protocol operation that fails with a vLLM-shaped error.
template <typename T>
using ApiResult = boost::system::result<T, ApiError>;

// Found by ADL when ApiResult<T>::value() is called on an error: a bug, so it aborts.
[[noreturn]] void throw_exception_from_error(const ApiError& e, const boost::source_location& loc);

// The JSON body for `error`: {"error":{"message","type","param","code"}} (compact, UTF-8).
std::string ErrorBody(const ApiError& error);

// One SSE event carrying `error`, sent when a stream fails after its 200 status went out
// (`serving.py::create_streaming_error_response`): "data: <ErrorBody>\n\n". The stream still
// ends with "data: [DONE]\n\n" (see responses.h AppendDone).
void AppendStreamError(const ApiError& error, std::string* out);

// Parses an error body from vLLM, current ({"error":{...}}) or old ({"object":"error",...}) shape.
std::optional<ApiError> ParseErrorBody(std::string_view body);

// A brix::Error for code that deals in base errors: 404 -> NotFound, 5xx -> Internal or
// Unavailable (503), other 4xx -> InvalidArgument. The message is kept.
Error ToError(const ApiError& error);

// ---- Errors raised by vLLM's serving code (create_error_response) ----

// 400 "BadRequestError" with `message` and `param` (VLLMValidationError and plain ValueError).
ApiError BadRequest(std::string message, std::optional<std::string> param = std::nullopt);

// The message text of a VLLMValidationError: `message` plus " (parameter=P, value=V)" for the
// parts that are set (`vllm/exceptions.py::VLLMValidationError.__str__`).
std::string ValidationMessage(std::string_view message, std::optional<std::string_view> parameter,
                              std::optional<std::string_view> value);

// 404 "NotFoundError" "The model `X` does not exist." param "model"
// (`openai/models/serving.py::OpenAIModelRegistry.check_model`).
ApiError ModelNotFound(std::string_view model);

// 400 for a prompt that does not fit (`renderers/params.py::TokenizeParams._token_len_check`):
// "This model's maximum context length is L tokens. However, you requested M output tokens and
// your prompt contains [at least ]N input tokens, for a total of [at least ]N+M tokens. Please
// reduce the length of the input prompt or the number of requested output tokens.
// (parameter=input_tokens, value=N)". `at_least` is set when vLLM's tokenizer truncated the
// prompt at max_input_tokens + 1 (text prompts); then prompt_tokens must be that count.
ApiError ContextLengthExceeded(int64_t max_model_len, int64_t max_output_tokens,
                               int64_t prompt_tokens, bool at_least);

// 400 for max output tokens above the context (`TokenizeParams.__post_init__`), with vLLM's own
// f-string quirk: "max_tokens=9000 cannot be greater than max_model_len=max_total_tokens=4096.
// Please request fewer output tokens. (parameter=max_tokens, value=9000)". `param` is
// "max_tokens" or "max_completion_tokens".
ApiError MaxTokensExceedContext(std::string_view param, int64_t max_output_tokens,
                                int64_t max_model_len);

// ---- Errors of the runtime LoRA API (`openai/models/serving.py`) ----

// 400 "InvalidUserInput" "Both 'lora_name' and 'lora_path' must be provided."
ApiError LoraNameAndPathRequired();
// 400 "InvalidUserInput" "'lora_name' needs to be provided to unload a LoRA adapter."
ApiError LoraNameRequired();
// 400 "InvalidUserInput" "The lora adapter 'a' has already been loaded. If you want to load the
// adapter in place, set 'load_inplace' to True."
ApiError LoraAlreadyLoaded(std::string_view name);
// 404 "NotFoundError" "The lora adapter 'a' cannot be found." (unload of an unknown adapter)
ApiError LoraNotFound(std::string_view name);
// 404 "NotFoundError" for a lora_path that does not exist (`vllm/exceptions.py::
// LoRAAdapterNotFoundError`): "Loading lora a failed: No adapter found for /p".
ApiError LoraPathNotFound(std::string_view name, std::string_view path);

// ---- Errors raised before vLLM's handler runs (FastAPI + pydantic) ----

// 400 type "Bad Request" for a Content-Type other than application/json on the JSON routes
// (`serve/utils/api_utils.py::validate_json_request`): message
// "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed", no param.
ApiError UnsupportedMediaType();

// True when `content_type` names application/json (parameters and case ignored), as
// validate_json_request decides.
bool IsJsonContentType(std::string_view content_type);

}  // namespace brix::openai
