#include "openai/gateway.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cstdint>

#include "openai/requests.h"

namespace brix::openai {
namespace {

namespace json = boost::json;

json::parse_options ParseOptions() {
  json::parse_options options;
  options.max_depth = 256;  // as ParseChatCompletionRequest
  return options;
}

// A `bool` field as pydantic's lax mode reads it (true/false, 0/1, "true"/"yes"/"on"/"1", ...);
// values pydantic would reject read as false (vLLM answers those with a 400 anyway).
bool LaxBool(const json::value* v) {
  if (v == nullptr) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_number()) return v->to_number<double>() == 1.0;
  if (v->is_string()) {
    std::string s(v->get_string());
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s == "1" || s == "on" || s == "t" || s == "true" || s == "y" || s == "yes";
  }
  return false;
}

// stream_options' effective include_usage / continuous_usage_stats (StreamOptions defaults:
// include_usage True, continuous_usage_stats False; an explicit null is falsy).
std::pair<bool, bool> UsageFlags(const json::value* options) {
  if (options == nullptr || !options->is_object()) return {false, false};
  const json::object& o = options->get_object();
  const json::value* include = o.if_contains("include_usage");
  const bool include_usage = include == nullptr ? true : LaxBool(include);
  return {include_usage, include_usage && LaxBool(o.if_contains("continuous_usage_stats"))};
}

// A token count: a JSON number exactly representable as int64 (the throwing to_number() would
// abort on 1.5 or 1e30 from a misbehaving engine), else nullopt.
std::optional<int64_t> Count(const json::value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  const int64_t n = v->to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

std::optional<Usage> UsageFrom(const json::value* v) {
  if (v == nullptr || !v->is_object()) return std::nullopt;
  const json::object& u = v->get_object();
  std::optional<int64_t> prompt = Count(u.if_contains("prompt_tokens"));
  if (!prompt) return std::nullopt;
  Usage usage;
  usage.prompt_tokens = *prompt;
  usage.completion_tokens = Count(u.if_contains("completion_tokens")).value_or(0);
  if (const json::value* d = u.if_contains("prompt_tokens_details");
      d != nullptr && d->is_object()) {
    usage.cached_tokens = Count(d->get_object().if_contains("cached_tokens"));
  }
  return usage;
}

}  // namespace

ApiResult<RequestInfo> InspectRequest(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, ParseOptions());
  if (ec || !v.is_object()) {
    // The full parser words the error exactly as vLLM does.
    ApiResult<ChatCompletionRequest> full = ParseChatCompletionRequest(body);
    if (!full) return full.error();
    return BadRequest("Request body is not a JSON object.");  // unreachable in practice
  }
  const json::object& o = v.get_object();
  RequestInfo info;
  if (const json::value* m = o.if_contains("model"); m != nullptr && m->is_string()) {
    info.model = std::string(m->get_string());
  }
  info.stream = LaxBool(o.if_contains("stream"));
  const auto [include, continuous] = UsageFlags(o.if_contains("stream_options"));
  info.include_usage = info.stream && include;
  info.continuous_usage = info.stream && continuous;
  return info;
}

UsageRewrite RewriteForUsage(std::string_view body) {
  UsageRewrite out{std::string(body), false};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, ParseOptions());
  if (ec || !v.is_object()) return out;
  json::object& o = v.get_object();
  if (!LaxBool(o.if_contains("stream"))) return out;
  json::value* options = o.if_contains("stream_options");
  if (options != nullptr && !options->is_null() && !options->is_object()) return out;
  const auto [include, continuous] = UsageFlags(options);
  if (include) return out;  // the client gets usage already; nothing to add or strip
  (void)continuous;
  json::object rewritten;
  if (options != nullptr && options->is_object()) rewritten = options->get_object();
  rewritten["include_usage"] = true;
  // With include_usage on, vLLM would honour a continuous_usage_stats the client had set while
  // usage was off, and add usage to every chunk.
  if (rewritten.contains("continuous_usage_stats")) rewritten["continuous_usage_stats"] = false;
  o["stream_options"] = std::move(rewritten);
  out.body = json::serialize(v);
  out.strip_usage = true;
  return out;
}

std::optional<int64_t> RequestedMaxTokens(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, ParseOptions());
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  for (std::string_view name : {"max_completion_tokens", "max_tokens"}) {
    const json::value* f = o.if_contains(name);
    if (f == nullptr || f->is_null()) continue;
    if (f->is_int64() && f->get_int64() >= 0) return f->get_int64();
    if (f->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(f->get_uint64(), INT64_MAX));
    return std::nullopt;  // not an integer: vLLM answers that itself
  }
  return std::nullopt;
}

std::string WithMaxTokens(std::string_view body, int64_t n) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, ParseOptions());
  if (ec || !v.is_object()) return std::string(body);
  v.get_object()["max_tokens"] = n;
  return json::serialize(v);
}

SseEventKind ClassifySseData(std::string_view data, Usage* usage) {
  while (!data.empty() && (data.front() == ' ' || data.front() == '\t')) data.remove_prefix(1);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r' || data.back() == ' ')) {
    data.remove_suffix(1);
  }
  if (data == "[DONE]") return SseEventKind::kDone;
  if (data.empty() || data.front() != '{') return SseEventKind::kOther;
  if (data.starts_with("{\"error\":")) return SseEventKind::kError;
  // vLLM writes compact JSON: the usage-only chunk, and only it, has "choices":[] . Chunks without
  // usage at all are the common case and need no parse.
  if (data.find("\"usage\"") == std::string_view::npos) return SseEventKind::kChunk;
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return SseEventKind::kOther;
  const json::object& o = v.get_object();
  if (o.contains("error")) return SseEventKind::kError;
  const json::value* choices = o.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return SseEventKind::kOther;
  if (!choices->get_array().empty()) return SseEventKind::kChunk;
  std::optional<Usage> u = UsageFrom(o.if_contains("usage"));
  if (!u) return SseEventKind::kOther;
  if (usage != nullptr) *usage = *u;
  return SseEventKind::kUsageOnly;
}

std::optional<Usage> ReadChunkUsage(std::string_view data) {
  if (data.find("\"usage\"") == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return UsageFrom(v.get_object().if_contains("usage"));
}

std::optional<Usage> ReadResponseUsage(std::string_view body) {
  constexpr std::string_view kKey = "\"usage\"";
  size_t end = body.size();
  while (end > 0) {
    const size_t at = body.rfind(kKey, end - 1);
    if (at == std::string_view::npos) break;
    end = at;
    // A quote preceded by an odd number of backslashes is inside a string.
    size_t backslashes = 0;
    while (backslashes < at && body[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) continue;
    size_t i = at + kKey.size();
    auto skip_space = [&] {
      while (i < body.size() &&
             (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) {
        ++i;
      }
    };
    skip_space();
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    skip_space();
    if (i >= body.size() || body[i] != '{') continue;
    json::stream_parser parser;
    boost::system::error_code ec;
    parser.write_some(body.data() + i, body.size() - i, ec);
    if (ec || !parser.done()) continue;
    json::value usage = parser.release();
    std::optional<Usage> u = UsageFrom(&usage);
    if (u) return u;
  }
  if (body.find(kKey) == std::string_view::npos) return std::nullopt;
  return ReadChunkUsage(body);
}

}  // namespace brix::openai
