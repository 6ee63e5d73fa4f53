#include "openai/requests.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "openai/internal/json_text.h"
#include "openai/internal/lax.h"

namespace brix::openai {
namespace {

namespace json = boost::json;
using internal::AppendPyRepr;
using internal::AppendPyStr;
using internal::PyFloatRepr;

// ---- Pydantic-style validation errors ----------------------------------------------------
//
// FastAPI turns a failed body validation into RequestValidationError, and vLLM's handler
// (`serve/exception_handling/handlers/validation.py`) answers 400 with type "Bad Request", the
// message "N validation error(s):\n  {err}\n  {err}" (each err is the Python repr of pydantic's
// error dict) and param = the VLLMValidationError's parameter, else the first error's loc joined
// with "." ("body.max_tokens").

struct Issue {
  std::string repr;                  // the Python repr of the error dict
  std::optional<std::string> param;  // VLLMValidationError.parameter, if the issue has one
  bool from_vllm_error = false;      // the ctx holds a VLLMValidationError
  std::string loc_param;             // loc joined with "."
};

class Issues {
 public:
  // A field-level error: {'type': T, 'loc': ('body', field...), 'msg': M, 'input': V}.
  void Field(std::string_view type, std::vector<std::string> loc, std::string_view msg,
             const json::value& input) {
    Issue issue;
    std::string& r = issue.repr;
    r = "{'type': ";
    AppendPyStr(type, &r);
    r += loc.empty() ? ", 'loc': ('body'," : ", 'loc': ('body'";
    issue.loc_param = "body";
    for (const std::string& part : loc) {
      r += ", ";
      if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos) {
        r += part;  // list indices are ints in pydantic locs
      } else {
        AppendPyStr(part, &r);
      }
      issue.loc_param += "." + part;
    }
    r += "), 'msg': ";
    AppendPyStr(msg, &r);
    r += ", 'input': ";
    AppendPyRepr(input, &r);
    r += "}";
    issues_.push_back(std::move(issue));
  }

  // A model_validator(mode="before") raising VLLMValidationError(message, parameter=, value=).
  void ModelValue(std::string_view message, std::optional<std::string_view> parameter,
                  std::optional<std::string_view> value, const json::value& body) {
    Issue issue;
    std::string& r = issue.repr;
    r = "{'type': 'value_error', 'loc': ('body',), 'msg': ";
    AppendPyStr("Value error, " + ValidationMessage(message, parameter, value), &r);
    r += ", 'input': ";
    AppendPyRepr(body, &r);
    r += ", 'ctx': {'error': VLLMValidationError(";
    AppendPyStr(message, &r);
    r += ")}}";
    issue.from_vllm_error = true;
    if (parameter) issue.param = std::string(*parameter);
    issue.loc_param = "body";
    issues_.push_back(std::move(issue));
  }

  bool empty() const { return issues_.empty(); }

  ApiError ToError() const {
    std::string message = std::to_string(issues_.size()) + " validation " +
                          (issues_.size() == 1 ? "error" : "errors") + ":\n";
    for (const Issue& issue : issues_) message += "  " + issue.repr + "\n";
    message.pop_back();  // rstrip
    std::optional<std::string> param;
    bool found = false;
    for (const Issue& issue : issues_) {
      if (issue.from_vllm_error) {
        param = issue.param;
        found = true;
        break;
      }
    }
    if (!found || !param) param = issues_.front().loc_param;
    return ApiError{400, "Bad Request", std::move(message), std::move(param)};
  }

 private:
  std::vector<Issue> issues_;
};

constexpr size_t kMaxJsonDepth = 256;

// Parses `body` as FastAPI does: empty -> missing body; bad JSON -> json_invalid at the offset.
ApiResult<json::value> ParseBody(std::string_view body) {
  Issues issues;
  if (body.empty()) {
    issues.Field("missing", {}, "Field required", json::value(nullptr));
    return issues.ToError();
  }
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::stream_parser parser({}, options);
  size_t consumed = parser.write_some(body.data(), body.size(), ec);
  if (!ec && !parser.done()) parser.finish(ec);
  // Python's json.loads allows trailing whitespace only.
  const bool extra_data =
      !ec && body.find_first_not_of(" \t\r\n", consumed) != std::string_view::npos;
  if (ec || extra_data) {
    // Python's json module words it; "Expecting value" and "Extra data" are its common cases.
    const std::string ctx = extra_data ? "Extra data" : "Expecting value";
    std::string repr = "{'type': 'json_invalid', 'loc': ('body', " + std::to_string(consumed) +
                       "), 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': ";
    AppendPyStr(ctx, &repr);
    repr += "}}";
    return ApiError{400, "Bad Request", "1 validation error:\n  " + repr,
                    "body." + std::to_string(consumed)};
  }
  return parser.release();
}

// Python truthiness of a JSON value (what `data.get(k)` tests in vLLM's validators).
bool Truthy(const json::value* v) {
  if (v == nullptr) return false;
  switch (v->kind()) {
    case json::kind::null:
      return false;
    case json::kind::bool_:
      return v->get_bool();
    case json::kind::int64:
      return v->get_int64() != 0;
    case json::kind::uint64:
      return v->get_uint64() != 0;
    case json::kind::double_:
      return v->get_double() != 0.0;
    case json::kind::string:
      return !v->get_string().empty();
    case json::kind::array:
      return !v->get_array().empty();
    case json::kind::object:
      return !v->get_object().empty();
  }
  return false;
}

// str() of a JSON value as Python prints it in "value=..." suffixes.
std::string PyStrOf(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  std::string out;
  AppendPyRepr(v, &out);
  return out;
}

// Field readers with pydantic's lax-mode coercions. Each records an issue and returns nullopt
// when the value does not validate; absent keys and (for optional fields) null yield `fallback`.
class Reader {
 public:
  Reader(const json::object& obj, Issues* issues) : obj_(obj), issues_(issues) {}

  const json::value* Get(std::string_view key) const { return obj_.if_contains(key); }

  // An `int` (or `int | None` when nullable) field.
  std::optional<int64_t> Int(std::string_view key, bool nullable, bool* present = nullptr) {
    const json::value* v = Get(key);
    if (present != nullptr) *present = v != nullptr && !v->is_null();
    if (v == nullptr) return std::nullopt;
    return IntValue(*v, {std::string(key)}, nullable);
  }

  std::optional<int64_t> IntValue(const json::value& v, std::vector<std::string> loc,
                                  bool nullable) {
    if (v.is_null() && nullable) return std::nullopt;
    internal::LaxIntError error;
    std::optional<int64_t> out = internal::LaxInt(v, &error);
    switch (error) {
      case internal::LaxIntError::kNone:
        break;
      case internal::LaxIntError::kFraction:
        issues_->Field("int_from_float", std::move(loc),
                       "Input should be a valid integer, got a number with a fractional part", v);
        break;
      case internal::LaxIntError::kParsing:
        issues_->Field("int_parsing", std::move(loc),
                       "Input should be a valid integer, unable to parse string as an integer", v);
        break;
      case internal::LaxIntError::kType:
        issues_->Field("int_type", std::move(loc), "Input should be a valid integer", v);
        break;
    }
    return out;
  }

  std::optional<double> Float(std::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_number()) return v->to_number<double>();
    if (v->is_bool()) return v->get_bool() ? 1.0 : 0.0;
    if (v->is_string()) {
      const std::string_view s = v->get_string();
      double out = 0;
      const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
      if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) return out;
      issues_->Field("float_parsing", {std::string(key)},
                     "Input should be a valid number, unable to parse string as a number", *v);
      return std::nullopt;
    }
    issues_->Field("float_type", {std::string(key)}, "Input should be a valid number", *v);
    return std::nullopt;
  }

  // A `bool` field (nullable or not); returns `fallback` when absent (or null and nullable).
  bool Bool(std::string_view key, bool fallback, bool nullable = true) {
    const json::value* v = Get(key);
    if (v == nullptr || (v->is_null() && nullable)) return fallback;
    internal::LaxBoolError why;
    if (std::optional<bool> b = internal::LaxBool(*v, &why)) return *b;
    if (why == internal::LaxBoolError::kParsing) {
      issues_->Field("bool_parsing", {std::string(key)},
                     "Input should be a valid boolean, unable to interpret input", *v);
    } else {
      issues_->Field("bool_type", {std::string(key)}, "Input should be a valid boolean", *v);
    }
    return fallback;
  }

  std::optional<std::string> Str(std::string_view key, bool nullable = true) {
    const json::value* v = Get(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_null() && nullable) return std::nullopt;
    issues_->Field("string_type", {std::string(key)}, "Input should be a valid string", *v);
    return std::nullopt;
  }

  // A required `str` field.
  std::string RequiredStr(std::string_view key, const json::value& body) {
    const json::value* v = Get(key);
    if (v == nullptr) {
      issues_->Field("missing", {std::string(key)}, "Field required", body);
      return {};
    }
    if (!v->is_string()) {
      issues_->Field("string_type", {std::string(key)}, "Input should be a valid string", *v);
      return {};
    }
    return std::string(v->get_string());
  }

  // A `list[int]` field whose items must be >= min_value (when set).
  std::vector<int64_t> IntList(std::string_view key, std::optional<int64_t> min_value) {
    std::vector<int64_t> out;
    const json::value* v = Get(key);
    if (v == nullptr || v->is_null()) return out;
    if (!v->is_array()) {
      issues_->Field("list_type", {std::string(key)}, "Input should be a valid list", *v);
      return out;
    }
    const json::array& a = v->get_array();
    out.reserve(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      std::optional<int64_t> x = IntValue(a[i], {std::string(key), std::to_string(i)}, false);
      if (!x) continue;
      if (min_value && *x < *min_value) {
        issues_->Field("greater_than_equal", {std::string(key), std::to_string(i)},
                       "Input should be greater than or equal to " + std::to_string(*min_value),
                       a[i]);
        continue;
      }
      out.push_back(*x);
    }
    return out;
  }

 private:
  const json::object& obj_;
  Issues* issues_;
};

// Python isinstance(v, (int, float)) for a JSON value (bool is an int in Python).
bool IsPyNumber(const json::value& v) { return v.is_number() || v.is_bool(); }
double PyNumber(const json::value& v) {
  return v.is_bool() ? (v.get_bool() ? 1.0 : 0.0) : v.to_number<double>();
}

std::optional<StreamOptions> ReadStreamOptions(const json::value* v, Issues* issues) {
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_object()) {
    issues->Field("model_type", {"stream_options"},
                  "Input should be a valid dictionary or instance of StreamOptions", *v);
    return std::nullopt;
  }
  Reader r(v->get_object(), issues);
  StreamOptions options;
  // `include_usage: bool | None = True`: null reads as None, which vLLM treats as false.
  const json::value* include = r.Get("include_usage");
  options.include_usage = include == nullptr ? true : r.Bool("include_usage", false);
  options.continuous_usage_stats = r.Bool("continuous_usage_stats", false);
  return options;
}

void ReadStop(const json::value* v, std::vector<std::string>* out, Issues* issues) {
  if (v == nullptr || v->is_null()) return;
  if (v->is_string()) {
    out->emplace_back(v->get_string());
    return;
  }
  if (v->is_array()) {
    const json::array& a = v->get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].is_string()) {
        out->emplace_back(a[i].get_string());
      } else {
        issues->Field("string_type", {"stop", "list[str]", std::to_string(i)},
                      "Input should be a valid string", a[i]);
      }
    }
    return;
  }
  issues->Field("string_type", {"stop", "str"}, "Input should be a valid string", *v);
}

void ReadSampling(Reader& r, SamplingFields* s, Issues* issues) {
  s->n = r.Int("n", true);
  s->temperature = r.Float("temperature");
  s->top_p = r.Float("top_p");
  s->top_k = r.Int("top_k", true);
  s->presence_penalty = r.Float("presence_penalty");
  s->frequency_penalty = r.Float("frequency_penalty");
  s->seed = r.Int("seed", true);
  ReadStop(r.Get("stop"), &s->stop, issues);
  s->stop_token_ids = r.IntList("stop_token_ids", std::nullopt);
  s->ignore_eos = r.Bool("ignore_eos", false, false);
  s->min_tokens = r.Int("min_tokens", false).value_or(0);
}

// Chat messages: a list of {role, content} where content is a string, null, or text parts.
// vLLM validates them against a union of OpenAI's message TypedDicts; this reports the first
// problem of each message in a simplified form.
std::vector<ChatMessage> ReadMessages(const json::value* v, const json::value& body,
                                      Issues* issues) {
  std::vector<ChatMessage> out;
  if (v == nullptr) {
    issues->Field("missing", {"messages"}, "Field required", body);
    return out;
  }
  if (!v->is_array()) {
    issues->Field("list_type", {"messages"}, "Input should be a valid list", *v);
    return out;
  }
  const json::array& a = v->get_array();
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string index = std::to_string(i);
    if (!a[i].is_object()) {
      issues->Field("dict_type", {"messages", index}, "Input should be a valid dictionary", a[i]);
      continue;
    }
    const json::object& m = a[i].get_object();
    ChatMessage message;
    const json::value* role = m.if_contains("role");
    if (role == nullptr) {
      issues->Field("missing", {"messages", index, "role"}, "Field required", a[i]);
      continue;
    }
    if (!role->is_string()) {
      issues->Field("string_type", {"messages", index, "role"}, "Input should be a valid string",
                    *role);
      continue;
    }
    message.role = std::string(role->get_string());
    const json::value* content = m.if_contains("content");
    if (content == nullptr || content->is_null()) {
      // Allowed (assistant tool calls); renders as empty text.
    } else if (content->is_string()) {
      message.content = std::string(content->get_string());
    } else if (content->is_array()) {
      bool first = true;
      const json::array& parts = content->get_array();
      for (size_t k = 0; k < parts.size(); ++k) {
        const std::vector<std::string> loc = {"messages", index, "content", std::to_string(k)};
        const json::value& part = parts[k];
        const json::object* p = part.if_object();
        const json::value* type = p != nullptr ? p->if_contains("type") : nullptr;
        const json::value* text = p != nullptr ? p->if_contains("text") : nullptr;
        if (p == nullptr) {
          issues->Field("dict_type", loc, "Input should be a valid dictionary", part);
          break;
        }
        if (type != nullptr && type->is_string() && type->get_string() != "text") {
          issues->Field("literal_error", loc, "Input should be 'text'", *type);
          break;
        }
        if (text == nullptr || !text->is_string()) {
          issues->Field(text == nullptr ? "missing" : "string_type", loc,
                        text == nullptr ? "Field required" : "Input should be a valid string",
                        text == nullptr ? part : *text);
          break;
        }
        if (!first) message.content.push_back('\n');
        first = false;
        message.content.append(text->get_string());
      }
    } else {
      issues->Field("string_type", {"messages", index, "content"}, "Input should be a valid string",
                    *content);
      continue;
    }
    out.push_back(std::move(message));
  }
  return out;
}

// The body must be a JSON object for any of the request models.
const json::object* RequireObject(const json::value& body, Issues* issues) {
  if (body.is_object()) return &body.get_object();
  issues->Field("model_attributes_type", {},
                "Input should be a valid dictionary or object to extract fields from", body);
  return nullptr;
}

// `chat_completion/protocol.py` and `completion/protocol.py` validate_stream_options.
bool CheckStreamOptions(const json::object& obj, const json::value& body, Issues* issues) {
  if (Truthy(obj.if_contains("stream_options")) && !Truthy(obj.if_contains("stream"))) {
    issues->ModelValue("Stream options can only be defined when `stream=True`.", "stream_options",
                       std::nullopt, body);
    return false;
  }
  return true;
}

}  // namespace

// ---- Derived values -------------------------------------------------------------------------

std::optional<int64_t> ChatCompletionRequest::RequestedMaxTokens() const {
  return max_completion_tokens ? max_completion_tokens : max_tokens;
}

std::string_view ChatCompletionRequest::MaxTokensParam() const {
  return max_completion_tokens ? "max_completion_tokens" : "max_tokens";
}

bool ChatCompletionRequest::IncludeUsage() const {
  return stream_options && stream_options->include_usage;
}
bool ChatCompletionRequest::ContinuousUsage() const {
  return IncludeUsage() && stream_options->continuous_usage_stats;
}
bool CompletionRequest::IncludeUsage() const {
  return stream_options && stream_options->include_usage;
}
bool CompletionRequest::ContinuousUsage() const {
  return IncludeUsage() && stream_options->continuous_usage_stats;
}

// ---- Parsers ------------------------------------------------------------------------------

ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(std::string_view text) {
  ApiResult<json::value> parsed = ParseBody(text);
  if (!parsed) return parsed.error();
  const json::value& body = *parsed;
  Issues issues;
  const json::object* obj = RequireObject(body, &issues);
  if (obj == nullptr) return issues.ToError();

  // model_validator(mode="before") checks; pydantic runs "before" validators last-defined first,
  // and the first failure ends validation.
  if (Truthy(obj->if_contains("continue_final_message")) &&
      Truthy(obj->if_contains("add_generation_prompt"))) {
    issues.ModelValue(
        "Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
        std::nullopt, std::nullopt, body);
    return issues.ToError();
  }
  if (const json::value* tools = obj->if_contains("tools");
      tools != nullptr && tools->is_array() && tools->get_array().empty()) {
    issues.ModelValue(
        "`tools` must not be an empty array. Either provide at least one tool or omit the field "
        "entirely.",
        "tools", std::nullopt, body);
    return issues.ToError();
  }
  if (const json::value* choice = obj->if_contains("tool_choice");
      choice != nullptr && !choice->is_null() &&
      !(choice->is_string() && choice->get_string() == "none")) {
    const json::value* tools = obj->if_contains("tools");
    if (tools == nullptr || tools->is_null()) {
      issues.ModelValue("When using `tool_choice`, `tools` must be set.", "tool_choice",
                        std::nullopt, body);
      return issues.ToError();
    }
  }
  for (std::string_view field : {"prompt_logprobs", "top_logprobs"}) {
    const json::value* v = obj->if_contains(field);
    if (v != nullptr && !v->is_null() && !IsPyNumber(*v)) {
      issues.ModelValue("`" + std::string(field) + "` must be an integer.", field, PyStrOf(*v),
                        body);
      return issues.ToError();
    }
  }
  if (const json::value* top = obj->if_contains("top_logprobs");
      top != nullptr && !top->is_null()) {
    const double t = PyNumber(*top);
    if (t < 0 && t != -1) {
      issues.ModelValue("`top_logprobs` must be a positive value or -1.", "top_logprobs",
                        PyStrOf(*top), body);
      return issues.ToError();
    }
    if ((t == -1 || t > 0) && !Truthy(obj->if_contains("logprobs"))) {
      issues.ModelValue("when using `top_logprobs`, `logprobs` must be set to true.",
                        "top_logprobs", std::nullopt, body);
      return issues.ToError();
    }
  }
  if (!CheckStreamOptions(*obj, body, &issues)) return issues.ToError();

  // Field validation, in the model's field order; every failure is reported.
  ChatCompletionRequest req;
  Reader r(*obj, &issues);
  req.messages = ReadMessages(obj->if_contains("messages"), body, &issues);
  req.model = r.Str("model");
  req.logprobs = r.Bool("logprobs", false);
  req.max_tokens = r.Int("max_tokens", true);
  req.max_completion_tokens = r.Int("max_completion_tokens", true);
  ReadSampling(r, &req.sampling, &issues);
  req.stream = r.Bool("stream", false);
  req.stream_options = ReadStreamOptions(obj->if_contains("stream_options"), &issues);
  req.echo = r.Bool("echo", false, false);
  req.add_generation_prompt = r.Bool("add_generation_prompt", true, false);
  req.add_special_tokens = r.Bool("add_special_tokens", false, false);
  req.priority = r.Int("priority", false).value_or(0);
  req.request_id = r.Str("request_id", false);
  req.cache_salt = r.Str("cache_salt");
  req.return_token_ids = r.Bool("return_token_ids", false);
  if (!issues.empty()) return issues.ToError();
  return req;
}

ApiResult<CompletionRequest> ParseCompletionRequest(std::string_view text) {
  ApiResult<json::value> parsed = ParseBody(text);
  if (!parsed) return parsed.error();
  const json::value& body = *parsed;
  Issues issues;
  const json::object* obj = RequireObject(body, &issues);
  if (obj == nullptr) return issues.ToError();

  // "before" validators, last-defined first (completion/protocol.py).
  const json::value* prompt = obj->if_contains("prompt");
  const bool prompt_empty = prompt == nullptr || prompt->is_null() ||
                            (prompt->is_string() && prompt->get_string().empty());
  const json::value* embeds = obj->if_contains("prompt_embeds");
  const bool embeds_empty =
      embeds == nullptr || embeds->is_null() || (embeds->is_array() && embeds->get_array().empty());
  if (prompt_empty && embeds_empty) {
    issues.ModelValue("Either prompt or prompt_embeds must be provided and non-empty.", "prompt",
                      std::nullopt, body);
    return issues.ToError();
  }
  if (!CheckStreamOptions(*obj, body, &issues)) return issues.ToError();
  for (std::string_view field : {"prompt_logprobs", "logprobs"}) {
    const json::value* v = obj->if_contains(field);
    if (v != nullptr && !v->is_null() && !IsPyNumber(*v)) {
      issues.ModelValue("`" + std::string(field) + "` must be an integer.", field, PyStrOf(*v),
                        body);
      return issues.ToError();
    }
  }
  if (const json::value* lp = obj->if_contains("logprobs"); lp != nullptr && !lp->is_null()) {
    const double l = PyNumber(*lp);
    if (l < 0 && l != -1) {
      issues.ModelValue("`logprobs` must be a positive value or -1.", "logprobs", PyStrOf(*lp),
                        body);
      return issues.ToError();
    }
  }

  CompletionRequest req;
  Reader r(*obj, &issues);
  req.model = r.Str("model");
  if (prompt != nullptr && !prompt->is_null()) {
    if (prompt->is_string()) {
      req.prompts.push_back({false, std::string(prompt->get_string()), {}});
    } else if (prompt->is_array()) {
      const json::array& a = prompt->get_array();
      if (a.empty() || IsPyNumber(a.front())) {
        // One prompt of token ids: list[int >= 0].
        CompletionPrompt p{true, {}, r.IntList("prompt", 0)};
        req.prompts.push_back(std::move(p));
      } else if (a.front().is_string()) {
        for (size_t i = 0; i < a.size(); ++i) {
          if (!a[i].is_string()) {
            issues.Field("string_type", {"prompt", "list[str]", std::to_string(i)},
                         "Input should be a valid string", a[i]);
            continue;
          }
          req.prompts.push_back({false, std::string(a[i].get_string()), {}});
        }
      } else {
        for (size_t i = 0; i < a.size(); ++i) {
          if (!a[i].is_array()) {
            issues.Field("list_type", {"prompt", "list[list[int]]", std::to_string(i)},
                         "Input should be a valid list", a[i]);
            continue;
          }
          CompletionPrompt p{true, {}, {}};
          const json::array& ids = a[i].get_array();
          for (size_t k = 0; k < ids.size(); ++k) {
            std::optional<int64_t> id =
                r.IntValue(ids[k], {"prompt", std::to_string(i), std::to_string(k)}, false);
            if (id && *id < 0) {
              issues.Field("greater_than_equal", {"prompt", std::to_string(i), std::to_string(k)},
                           "Input should be greater than or equal to 0", ids[k]);
            } else if (id) {
              p.token_ids.push_back(*id);
            }
          }
          req.prompts.push_back(std::move(p));
        }
      }
    } else {
      issues.Field("string_type", {"prompt", "str"}, "Input should be a valid string", *prompt);
    }
  }
  req.echo = r.Bool("echo", false);
  req.logprobs = r.Int("logprobs", true);
  // normalize_null_max_tokens: null means the default, 16.
  req.max_tokens = r.Int("max_tokens", true).value_or(16);
  ReadSampling(r, &req.sampling, &issues);
  req.stream = r.Bool("stream", false);
  req.stream_options = ReadStreamOptions(obj->if_contains("stream_options"), &issues);
  req.add_special_tokens = r.Bool("add_special_tokens", true, false);
  req.priority = r.Int("priority", false).value_or(0);
  req.request_id = r.Str("request_id", false);
  req.cache_salt = r.Str("cache_salt");
  req.return_token_ids = r.Bool("return_token_ids", false);
  if (!issues.empty()) return issues.ToError();
  return req;
}

ApiResult<TokenizeRequest> ParseTokenizeRequest(std::string_view text) {
  ApiResult<json::value> parsed = ParseBody(text);
  if (!parsed) return parsed.error();
  const json::value& body = *parsed;
  Issues issues;
  const json::object* obj = RequireObject(body, &issues);
  if (obj == nullptr) return issues.ToError();
  TokenizeRequest req;
  Reader r(*obj, &issues);
  req.model = r.Str("model");
  req.return_token_strs = r.Bool("return_token_strs", false);
  // TokenizeRequest = TokenizeCompletionRequest | TokenizeChatRequest; `messages` selects the
  // chat form (vLLM's router checks the same way).
  if (obj->contains("messages")) {
    req.is_chat = true;
    if (Truthy(obj->if_contains("continue_final_message")) &&
        Truthy(obj->if_contains("add_generation_prompt"))) {
      issues.ModelValue(
          "Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
          std::nullopt, std::nullopt, body);
      return issues.ToError();
    }
    req.messages = ReadMessages(obj->if_contains("messages"), body, &issues);
    req.add_generation_prompt = r.Bool("add_generation_prompt", true, false);
    req.add_special_tokens = r.Bool("add_special_tokens", false, false);
  } else {
    req.prompt = r.RequiredStr("prompt", body);
    req.add_special_tokens = r.Bool("add_special_tokens", true, false);
  }
  if (!issues.empty()) return issues.ToError();
  return req;
}

ApiResult<DetokenizeRequest> ParseDetokenizeRequest(std::string_view text) {
  ApiResult<json::value> parsed = ParseBody(text);
  if (!parsed) return parsed.error();
  const json::value& body = *parsed;
  Issues issues;
  const json::object* obj = RequireObject(body, &issues);
  if (obj == nullptr) return issues.ToError();
  DetokenizeRequest req;
  Reader r(*obj, &issues);
  req.model = r.Str("model");
  if (!obj->contains("tokens")) {
    issues.Field("missing", {"tokens"}, "Field required", body);
  } else if (obj->at("tokens").is_null()) {
    issues.Field("list_type", {"tokens"}, "Input should be a valid list", obj->at("tokens"));
  } else {
    req.tokens = r.IntList("tokens", 0);
  }
  if (!issues.empty()) return issues.ToError();
  return req;
}

ApiResult<LoadLoraRequest> ParseLoadLoraRequest(std::string_view text) {
  ApiResult<json::value> parsed = ParseBody(text);
  if (!parsed) return parsed.error();
  const json::value& body = *parsed;
  Issues issues;
  const json::object* obj = RequireObject(body, &issues);
  if (obj == nullptr) return issues.ToError();
  Reader r(*obj, &issues);
  LoadLoraRequest req;
  req.lora_name = r.RequiredStr("lora_name", body);
  req.lora_path = r.RequiredStr("lora_path", body);
  req.load_inplace = r.Bool("load_inplace", false, false);
  if (!issues.empty()) return issues.ToError();
  return req;
}

ApiResult<UnloadLoraRequest> ParseUnloadLoraRequest(std::string_view text) {
  ApiResult<json::value> parsed = ParseBody(text);
  if (!parsed) return parsed.error();
  const json::value& body = *parsed;
  Issues issues;
  const json::object* obj = RequireObject(body, &issues);
  if (obj == nullptr) return issues.ToError();
  Reader r(*obj, &issues);
  UnloadLoraRequest req;
  req.lora_name = r.RequiredStr("lora_name", body);
  req.lora_int_id = r.Int("lora_int_id", true);
  if (!issues.empty()) return issues.ToError();
  return req;
}

std::optional<ApiError> ValidateLoadLora(const LoadLoraRequest& request, bool already_loaded) {
  if (request.lora_name.empty() || request.lora_path.empty()) return LoraNameAndPathRequired();
  if (!request.load_inplace && already_loaded) return LoraAlreadyLoaded(request.lora_name);
  return std::nullopt;
}

std::optional<ApiError> ValidateUnloadLora(const UnloadLoraRequest& request, bool loaded) {
  if (request.lora_name.empty()) return LoraNameRequired();
  if (!loaded) return LoraNotFound(request.lora_name);
  return std::nullopt;
}

// ---- Serving-level checks ------------------------------------------------------------------

ApiResult<GenerationPlan> ResolveGeneration(const SamplingFields& s,
                                            std::optional<int64_t> requested_max_tokens,
                                            std::string_view max_tokens_param,
                                            int64_t prompt_tokens, int64_t max_model_len,
                                            bool prompt_truncated) {
  // TokenizeParams(max_total_tokens=max_model_len, max_output_tokens=max_tokens or 0).
  const int64_t max_output = requested_max_tokens.value_or(0);
  if (max_output > max_model_len) {
    return MaxTokensExceedContext(max_tokens_param, max_output, max_model_len);
  }
  const int64_t max_input = max_model_len - max_output;
  if (prompt_tokens > max_input) {
    return ContextLengthExceeded(max_model_len, max_output, prompt_tokens,
                                 prompt_truncated && prompt_tokens == max_input + 1);
  }
  // api_utils.get_max_tokens: min(max_model_len - input_length, requested).
  int64_t max_tokens = max_model_len - prompt_tokens;
  if (requested_max_tokens) max_tokens = std::min(max_tokens, *requested_max_tokens);

  // SamplingParams._verify_args, in its order.
  const auto invalid = [](std::string message, std::optional<std::string_view> param = {},
                          std::optional<std::string> value = {}) {
    std::optional<std::string> p;
    if (param) p = std::string(*param);
    return BadRequest(ValidationMessage(message, param, value), std::move(p));
  };
  const int64_t n = s.n.value_or(1);
  if (n < 1) return invalid("n must be at least 1, got " + std::to_string(n) + ".");
  const double presence = s.presence_penalty.value_or(0.0);
  if (!(presence >= -2.0 && presence <= 2.0)) {
    return invalid("presence_penalty must be in [-2, 2], got " + PyFloatRepr(presence) + ".");
  }
  const double frequency = s.frequency_penalty.value_or(0.0);
  if (!(frequency >= -2.0 && frequency <= 2.0)) {
    return invalid("frequency_penalty must be in [-2, 2], got " + PyFloatRepr(frequency) + ".");
  }
  const double temperature = s.temperature.value_or(1.0);
  const std::string t = PyFloatRepr(temperature);
  if (!std::isfinite(temperature)) {
    return invalid("temperature must be a finite number, got " + t + ".", "temperature", t);
  }
  if (temperature < 0.0) {
    return invalid("temperature must be non-negative, got " + t + ".", "temperature", t);
  }
  if (temperature > 2.0) {
    return invalid("temperature must be in [0, 2], got " + t + ".", "temperature", t);
  }
  const double top_p = s.top_p.value_or(1.0);
  if (!(top_p > 0.0 && top_p <= 1.0)) {
    const std::string p = PyFloatRepr(top_p);
    return invalid("top_p must be in (0, 1], got " + p + ".", "top_p", p);
  }
  const int64_t top_k = s.top_k.value_or(0);
  if (top_k < -1) {
    return invalid("top_k must be 0 (disable), or at least 1, got " + std::to_string(top_k) + ".");
  }
  if (max_tokens < 1) {
    const std::string m = std::to_string(max_tokens);
    return invalid("max_tokens must be at least 1, got " + m + ".", "max_tokens", m);
  }
  if (s.min_tokens < 0) {
    return invalid("min_tokens must be greater than or equal to 0, got " +
                   std::to_string(s.min_tokens) + ".");
  }
  if (s.min_tokens > max_tokens) {
    return invalid("min_tokens must be less than or equal to max_tokens=" +
                   std::to_string(max_tokens) + ", got " + std::to_string(s.min_tokens) + ".");
  }
  for (const std::string& stop : s.stop) {
    if (stop.empty()) return invalid("stop cannot contain an empty string.");
  }
  // Zero temperature is greedy sampling, which allows one sequence only.
  if (temperature < 1e-5 && n > 1) {
    return invalid("n must be 1 when using greedy sampling, got " + std::to_string(n) + ".");
  }
  return GenerationPlan{max_tokens, s.min_tokens, n, s.ignore_eos};
}

ApiResult<GenerationPlan> ResolveGeneration(const ChatCompletionRequest& request,
                                            int64_t prompt_tokens, int64_t max_model_len) {
  return ResolveGeneration(request.sampling, request.RequestedMaxTokens(), request.MaxTokensParam(),
                           prompt_tokens, max_model_len);
}

ApiResult<GenerationPlan> ResolveGeneration(const CompletionRequest& request, int64_t prompt_tokens,
                                            int64_t max_model_len) {
  return ResolveGeneration(request.sampling, request.max_tokens, "max_tokens", prompt_tokens,
                           max_model_len);
}

}  // namespace brix::openai
