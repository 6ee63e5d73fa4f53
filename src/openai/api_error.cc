#include "openai/api_error.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>

#include "openai/internal/json_text.h"

namespace brix::openai {

using internal::AppendInt;
using internal::AppendJsonString;

void throw_exception_from_error(const ApiError& e, const boost::source_location& loc) {
  std::fprintf(stderr, "%s:%u: ApiResult::value() on an error: %d %s: %s\n", loc.file_name(),
               static_cast<unsigned>(loc.line()), e.status, e.type.c_str(), e.message.c_str());
  std::abort();
}

std::string ErrorBody(const ApiError& error) {
  // Field order is ErrorInfo's declaration order: message, type, param, code.
  std::string out;
  out.reserve(64 + error.message.size());
  out.append("{\"error\":{\"message\":");
  AppendJsonString(error.message, &out);
  out.append(",\"type\":");
  AppendJsonString(error.type, &out);
  out.append(",\"param\":");
  if (error.param) {
    AppendJsonString(*error.param, &out);
  } else {
    out.append("null");
  }
  out.append(",\"code\":");
  AppendInt(error.status, &out);
  out.append("}}");
  return out;
}

void AppendStreamError(const ApiError& error, std::string* out) {
  out->append("data: ");
  out->append(ErrorBody(error));
  out->append("\n\n");
}

std::optional<ApiError> ParseErrorBody(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const boost::json::object* info = &v.get_object();
  if (const auto* inner = info->if_contains("error"); inner != nullptr && inner->is_object()) {
    info = &inner->get_object();
  } else if (const auto* obj = info->if_contains("object");
             obj == nullptr || !obj->is_string() || obj->get_string() != "error") {
    return std::nullopt;
  }
  ApiError e;
  const auto* message = info->if_contains("message");
  const auto* code = info->if_contains("code");
  if (message == nullptr || !message->is_string() || code == nullptr || !code->is_number()) {
    return std::nullopt;
  }
  e.message = std::string(message->get_string());
  e.status = static_cast<int>(code->to_number<double>());
  if (const auto* type = info->if_contains("type"); type != nullptr && type->is_string()) {
    e.type = std::string(type->get_string());
  }
  if (const auto* param = info->if_contains("param"); param != nullptr && param->is_string()) {
    e.param = std::string(param->get_string());
  }
  return e;
}

Error ToError(const ApiError& error) {
  Errc code = Errc::kInvalidArgument;
  if (error.status == 404) {
    code = Errc::kNotFound;
  } else if (error.status == 503) {
    code = Errc::kUnavailable;
  } else if (error.status >= 500 || error.status < 400) {
    code = Errc::kInternal;
  }
  return Error{code, error.message};
}

ApiError BadRequest(std::string message, std::optional<std::string> param) {
  return ApiError{400, "BadRequestError", std::move(message), std::move(param)};
}

std::string ValidationMessage(std::string_view message, std::optional<std::string_view> parameter,
                              std::optional<std::string_view> value) {
  std::string out(message);
  if (!parameter && !value) return out;
  out.append(" (");
  if (parameter) {
    out.append("parameter=");
    out.append(*parameter);
  }
  if (value) {
    if (parameter) out.append(", ");
    out.append("value=");
    out.append(*value);
  }
  out.push_back(')');
  return out;
}

ApiError ModelNotFound(std::string_view model) {
  std::string message = "The model `";
  message.append(model);
  message.append("` does not exist.");
  return ApiError{404, "NotFoundError", std::move(message), "model"};
}

ApiError ContextLengthExceeded(int64_t max_model_len, int64_t max_output_tokens,
                               int64_t prompt_tokens, bool at_least) {
  const std::string qualifier = at_least ? "at least " : "";
  std::string message = "This model's maximum context length is " + std::to_string(max_model_len) +
                        " tokens. However, you requested " + std::to_string(max_output_tokens) +
                        " output tokens and your prompt contains " + qualifier +
                        std::to_string(prompt_tokens) + " input tokens, for a total of " +
                        qualifier + std::to_string(prompt_tokens + max_output_tokens) +
                        " tokens. Please reduce the length of the input prompt or the number of "
                        "requested output tokens.";
  const std::string value = std::to_string(prompt_tokens);
  return BadRequest(ValidationMessage(message, "input_tokens", value), "input_tokens");
}

ApiError MaxTokensExceedContext(std::string_view param, int64_t max_output_tokens,
                                int64_t max_model_len) {
  // `{self.max_total_tokens_param}={max_total_tokens=}` renders as "max_model_len=
  // max_total_tokens=4096" in vLLM; reproduced as is.
  std::string message(param);
  message += "=" + std::to_string(max_output_tokens) + " cannot be greater than max_model_len=" +
             "max_total_tokens=" + std::to_string(max_model_len) +
             ". Please request fewer output tokens.";
  const std::string value = std::to_string(max_output_tokens);
  return BadRequest(ValidationMessage(message, param, value), std::string(param));
}

ApiError LoraNameAndPathRequired() {
  return ApiError{400, "InvalidUserInput", "Both 'lora_name' and 'lora_path' must be provided.",
                  std::nullopt};
}

ApiError LoraNameRequired() {
  return ApiError{400, "InvalidUserInput",
                  "'lora_name' needs to be provided to unload a LoRA adapter.", std::nullopt};
}

ApiError LoraAlreadyLoaded(std::string_view name) {
  std::string message = "The lora adapter '";
  message.append(name);
  message.append(
      "' has already been loaded. If you want to load the adapter in place, set 'load_inplace' "
      "to True.");
  return ApiError{400, "InvalidUserInput", std::move(message), std::nullopt};
}

ApiError LoraNotFound(std::string_view name) {
  std::string message = "The lora adapter '";
  message.append(name);
  message.append("' cannot be found.");
  return ApiError{404, "NotFoundError", std::move(message), std::nullopt};
}

ApiError LoraPathNotFound(std::string_view name, std::string_view path) {
  std::string message = "Loading lora ";
  message.append(name);
  message.append(" failed: No adapter found for ");
  message.append(path);
  return ApiError{404, "NotFoundError", std::move(message), std::nullopt};
}

ApiError UnsupportedMediaType() {
  return ApiError{400, "Bad Request",
                  "1 validation error:\n  Unsupported Media Type: Only 'application/json' is "
                  "allowed",
                  std::nullopt};
}

bool IsJsonContentType(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  static constexpr std::string_view kJson = "application/json";
  if (media.size() != kJson.size()) return false;
  for (size_t i = 0; i < media.size(); ++i) {
    char c = media[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return true;
}

}  // namespace brix::openai
