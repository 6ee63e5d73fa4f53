#include "openai/gateway.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openai/internal/json_members.h"
#include "openai/internal/lax.h"
#include "openai/requests.h"

namespace brix::openai {
namespace {

namespace json = boost::json;

constexpr size_t kMaxDepth = 256;  // as ParseChatCompletionRequest

json::parse_options ParseOptions() {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  return options;
}

// A member's `value`, a view into `body`, parsed where it stands: Boost.JSON 1.81 reads some
// numbers an ulp apart depending on whether 33 bytes follow them in its buffer, so the value is
// parsed with the rest of the body after it, to read as the whole-body parse that decided before
// (and InspectRequest()) reads it. Nullopt only if it is not JSON.
std::optional<json::value> ParseValue(std::string_view body, std::string_view value) {
  json::parser parser({}, ParseOptions());
  boost::system::error_code ec;
  parser.write_some(value.data(), static_cast<size_t>(body.data() + body.size() - value.data()),
                    ec);
  if (ec) return std::nullopt;
  return parser.release();
}

// `body` with its top-level object `top` rewritten by one edit; the text around the object
// (whitespace) is kept.
std::string Edited(std::string_view body, const internal::TopLevelObject& top,
                   internal::MemberEdit edit) {
  std::string out;
  out.reserve(body.size() + edit.key.size() + edit.value.size() + 4);
  out.append(body.substr(0, top.begin));
  internal::AppendEdited(top.members, {&edit, 1}, &out);
  out.append(body.substr(top.end));
  return out;
}

// A `bool` field as pydantic's lax mode reads it (internal::LaxBool); values pydantic would
// reject read as false (vLLM answers those with a 400 anyway).
bool LaxBool(const json::value* v) {
  return v != nullptr && internal::LaxBool(*v, nullptr).value_or(false);
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

// An `int | None` field's value in a document (absent: nullptr).
IntField IntFieldOf(const json::value* v) {
  if (v == nullptr || v->is_null()) return {};
  return {true, internal::LaxInt(*v, nullptr)};
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

// What the two SAX handlers below share: Boost.JSON's handler limits (none beyond parse_options'
// depth), the events they ignore, the nesting depth, containers as values, and keys at depths 1
// and 2 assembled from their parts. Derived implements OnValueStart() (a value that is an
// object or array begins at depth_), OnKey() (a key at depth_ 1 or 2), on_object_begin/end and
// the scalar events.
template <typename Derived>
class SaxFields {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) {
    static_cast<Derived*>(this)->OnValueStart();
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ <= 2) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ > 2) return true;
    key_.append(s.data(), s.size());
    static_cast<Derived*>(this)->OnKey(key_);
    key_.clear();
    return true;
  }

 protected:
  int depth_ = 0;  // containers open

 private:
  std::string key_;  // a key being read
};

// SAX handler for InspectRequest(): the routing fields of a top-level object, read as the parser
// meets them (no document is built). It must agree with the document reading (LaxBool(),
// UsageFlags(), the last of duplicate keys wins, as in Boost.JSON and Python); gateway_test
// checks both readings against each other.
class RequestFields : public SaxFields<RequestFields> {
 public:
  bool object = false;  // the document is an object

  RequestInfo Info() const {
    RequestInfo info;
    info.model = model_;
    info.stream = stream_;
    const bool include = options_object_ && include_usage_;
    info.include_usage = stream_ && include;
    info.continuous_usage = stream_ && include && continuous_usage_;
    info.max_tokens = max_tokens_;
    info.max_completion_tokens = max_completion_tokens_;
    return info;
  }

  bool on_object_begin(boost::system::error_code&) {
    if (depth_ == 0) object = true;
    OnValueStart();
    ++depth_;
    if (depth_ == 2 && top_ == Top::kStreamOptions) {
      in_options_ = true;
      options_object_ = true;
    }
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (depth_ == 2) in_options_ = false;
    --depth_;
    return true;
  }
  void OnValueStart() { OnValue(Kind::kContainer, {}); }
  void OnKey(std::string_view key) {
    if (depth_ == 1) {
      top_ = key == "model"                   ? Top::kModel
             : key == "stream"                ? Top::kStream
             : key == "stream_options"        ? Top::kStreamOptions
             : key == "max_tokens"            ? Top::kMaxTokens
             : key == "max_completion_tokens" ? Top::kMaxCompletionTokens
                                              : Top::kOther;
      // A repeated key replaces what the earlier one said.
      if (IntField* field = Cap()) *field = {};
      if (top_ == Top::kModel) model_.reset();
      if (top_ == Top::kStream) stream_ = false;
      if (top_ == Top::kStreamOptions) {
        options_object_ = false;
        include_usage_ = true;  // StreamOptions' default
        continuous_usage_ = false;
      }
    } else if (in_options_) {
      inner_ = key == "include_usage"            ? Inner::kInclude
               : key == "continuous_usage_stats" ? Inner::kContinuous
                                                 : Inner::kOther;
    }
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    if (Wanted()) text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    if (Wanted()) {
      text_.append(s.data(), s.size());
      OnValue(Kind::kString, {});
    }
    text_.clear();
    return true;
  }
  bool on_int64(int64_t i, json::string_view, boost::system::error_code&) {
    OnCapScalar(i);
    OnValue(Kind::kNumber, static_cast<double>(i));
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, boost::system::error_code&) {
    OnCapScalar(u);
    OnValue(Kind::kNumber, static_cast<double>(u));
    return true;
  }
  bool on_double(double d, json::string_view, boost::system::error_code&) {
    OnCapScalar(d);
    OnValue(Kind::kNumber, d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    OnCapScalar(b);
    OnValue(Kind::kBool, b ? 1.0 : 0.0);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    OnValue(Kind::kNull, {});
    return true;
  }

 private:
  enum class Top { kOther, kModel, kStream, kStreamOptions, kMaxTokens, kMaxCompletionTokens };
  enum class Inner { kOther, kInclude, kContinuous };
  enum class Kind { kContainer, kString, kNumber, kBool, kNull };

  // Whether a string value being read is one of ours (its text is then collected).
  bool Wanted() const {
    if (depth_ == 1) return top_ == Top::kModel || top_ == Top::kStream || Cap() != nullptr;
    return depth_ == 2 && in_options_ && inner_ != Inner::kOther;
  }

  // The output cap field a value at the current depth belongs to, if any.
  IntField* Cap() {
    if (depth_ != 1) return nullptr;
    if (top_ == Top::kMaxTokens) return &max_tokens_;
    if (top_ == Top::kMaxCompletionTokens) return &max_completion_tokens_;
    return nullptr;
  }
  const IntField* Cap() const { return const_cast<RequestFields*>(this)->Cap(); }

  // A number or boolean, read for the output cap fields as a document's value is (the value is
  // built only for them: a prompt of token ids has thousands of numbers).
  template <typename Scalar>
  void OnCapScalar(Scalar x) {
    if (IntField* field = Cap()) {
      const json::value v(x);
      *field = IntFieldOf(&v);
    }
  }

  // A value starts (a container) or is complete (a scalar; a string's text is in text_) at the
  // current depth. `number` carries numbers and booleans (1/0).
  void OnValue(Kind kind, double number) {
    const auto lax = [&] {
      switch (kind) {
        case Kind::kBool:
        case Kind::kNumber:
          return internal::LaxBoolFromNumber(number).value_or(false);
        case Kind::kString:
          return internal::LaxBoolFromString(text_).value_or(false);
        default:
          return false;
      }
    };
    if (depth_ == 1) {
      switch (top_) {
        case Top::kModel:
          if (kind == Kind::kString) model_ = text_;
          break;
        case Top::kStream:
          stream_ = lax();
          break;
        case Top::kStreamOptions:
          options_object_ = false;  // an object sets it again in on_object_begin()
          break;
        case Top::kMaxTokens:
        case Top::kMaxCompletionTokens:
          // Numbers and booleans came through OnCapScalar().
          if (kind == Kind::kContainer) *Cap() = {true, std::nullopt};
          if (kind == Kind::kString) {
            const auto text = json::value(json::string_view(text_));
            *Cap() = IntFieldOf(&text);
          }
          break;
        case Top::kOther:
          break;
      }
    } else if (depth_ == 2 && in_options_) {
      if (inner_ == Inner::kInclude) include_usage_ = lax();
      if (inner_ == Inner::kContinuous) continuous_usage_ = lax();
    }
  }

  Top top_ = Top::kOther;
  Inner inner_ = Inner::kOther;
  bool in_options_ = false;  // inside the stream_options object
  std::string text_;         // a wanted string value being read
  std::optional<std::string> model_;
  bool stream_ = false;
  bool options_object_ = false;
  bool include_usage_ = true;
  bool continuous_usage_ = false;
  IntField max_tokens_;
  IntField max_completion_tokens_;
};

// SAX handler for a usage object (ReadResponseUsage()): the counts UsageFrom() reads from a
// document, read as the parser meets them. Parsing stops at the end of the object.
class UsageFields : public SaxFields<UsageFields> {
 public:
  // UsageFrom() of the object read.
  std::optional<Usage> Result() const {
    if (!prompt_) return std::nullopt;
    Usage usage;
    usage.prompt_tokens = *prompt_;
    usage.completion_tokens = completion_.value_or(0);
    if (details_object_) usage.cached_tokens = cached_;
    return usage;
  }

  bool on_object_begin(boost::system::error_code&) {
    OnValueStart();
    ++depth_;
    if (depth_ == 2 && key_ == Key::kDetails) {
      in_details_ = true;
      details_object_ = true;
    }
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (depth_ == 2) in_details_ = false;
    --depth_;
    return true;
  }
  void OnValueStart() { OnValue(std::nullopt); }
  void OnKey(std::string_view name) {
    if (depth_ == 1) {
      key_ = name == "prompt_tokens"           ? Key::kPrompt
             : name == "completion_tokens"     ? Key::kCompletion
             : name == "prompt_tokens_details" ? Key::kDetails
                                               : Key::kOther;
      if (key_ == Key::kDetails) {
        details_object_ = false;
        cached_.reset();
      }
    } else if (in_details_) {
      cached_key_ = name == "cached_tokens";
    }
  }
  bool on_string_part(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, boost::system::error_code&) {
    OnValue(std::nullopt);
    return true;
  }
  bool on_int64(int64_t i, json::string_view, boost::system::error_code&) {
    OnValue(json::value(i));
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, boost::system::error_code&) {
    OnValue(json::value(u));
    return true;
  }
  bool on_double(double d, json::string_view, boost::system::error_code&) {
    OnValue(json::value(d));
    return true;
  }
  bool on_bool(bool, boost::system::error_code&) {
    OnValue(std::nullopt);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    OnValue(std::nullopt);
    return true;
  }

 private:
  enum class Key { kOther, kPrompt, kCompletion, kDetails };

  // A value at the current depth: a number (as a scalar json::value, so that Count() decides
  // exactly as for a document), or anything else (nullopt).
  void OnValue(const std::optional<json::value>& number) {
    const std::optional<int64_t> count = number ? Count(&*number) : std::nullopt;
    if (depth_ == 1) {
      if (key_ == Key::kPrompt) prompt_ = count;
      if (key_ == Key::kCompletion) completion_ = count;
      if (key_ == Key::kDetails) details_object_ = false;  // an object sets it again
    } else if (depth_ == 2 && in_details_ && cached_key_) {
      cached_ = count;
    }
  }

  Key key_ = Key::kOther;
  bool in_details_ = false;
  bool details_object_ = false;
  bool cached_key_ = false;
  std::optional<int64_t> prompt_;
  std::optional<int64_t> completion_;
  std::optional<int64_t> cached_;
};

}  // namespace

ApiResult<RequestInfo> InspectRequest(std::string_view body) {
  // The fast path reads the few fields as the parser meets them, without building a document;
  // anything it does not accept (bad JSON, a body that is not an object) goes to the full parse,
  // which decides and words the error exactly as vLLM does.
  json::basic_parser<RequestFields> parser(ParseOptions());
  boost::system::error_code ec;
  const size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && parser.done() && used == body.size() && parser.handler().object) {
    return parser.handler().Info();
  }
  return InspectRequestWithDocument(body);
}

ApiResult<RequestInfo> InspectRequestWithDocument(std::string_view body) {
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
  info.max_tokens = IntFieldOf(o.if_contains("max_tokens"));
  info.max_completion_tokens = IntFieldOf(o.if_contains("max_completion_tokens"));
  return info;
}

UsageRewrite RewriteForUsage(std::string_view body) {
  // The body is edited as text rather than parsed and re-serialized (internal/json_members.h),
  // so that the engine receives every other byte as the client wrote it.
  const std::optional<internal::TopLevelObject> top = internal::ReadTopLevelObject(body, kMaxDepth);
  if (!top) return {std::string(body), false};
  // Of repeated keys the last counts, as in Python's json (and Boost.JSON's documents).
  const internal::JsonMember* stream = nullptr;
  const internal::JsonMember* options = nullptr;
  for (const internal::JsonMember& m : top->members) {
    if (internal::KeyIs(m.key, "stream")) stream = &m;
    if (internal::KeyIs(m.key, "stream_options")) options = &m;
  }
  // Only these two values are parsed, to decide as a document reading would.
  if (stream == nullptr) return {std::string(body), false};
  const std::optional<json::value> stream_value = ParseValue(body, stream->value);
  if (!stream_value || !LaxBool(&*stream_value)) return {std::string(body), false};
  std::optional<json::value> options_value;
  if (options != nullptr) {
    options_value = ParseValue(body, options->value);
    if (!options_value) return {std::string(body), false};
    if (!options_value->is_null() && !options_value->is_object()) return {std::string(body), false};
  }
  if (UsageFlags(options_value ? &*options_value : nullptr).first) {
    return {std::string(body), false};  // the client gets usage already; nothing to add or strip
  }
  std::string new_options;
  if (options_value && options_value->is_object()) {
    const std::optional<std::vector<internal::JsonMember>> inner =
        internal::ScanMembers(options->value);
    if (!inner) return {std::string(body), false};
    std::vector<internal::MemberEdit> edits = {{"include_usage", "true"}};
    // With include_usage on, vLLM would honour a continuous_usage_stats the client had set while
    // usage was off, and add usage to every chunk.
    if (options_value->get_object().contains("continuous_usage_stats")) {
      edits.push_back({"continuous_usage_stats", "false"});
    }
    internal::AppendEdited(*inner, edits, &new_options);
  } else {
    new_options = R"({"include_usage":true})";
  }
  const internal::MemberEdit edit{"stream_options", new_options};
  return {Edited(body, *top, edit), true};
}

OutputCap RequestedOutputCap(const RequestInfo& info, bool chat) {
  const auto rejected = [](const IntField& f) { return f.set && !f.value; };
  if (!chat) {
    // A completion's max_tokens: null means the default (normalize_null_max_tokens).
    if (rejected(info.max_tokens)) return {std::nullopt, false};
    return {info.max_tokens.set ? info.max_tokens.value : int64_t{16}, true};
  }
  if (rejected(info.max_tokens) || rejected(info.max_completion_tokens)) {
    return {std::nullopt, false};
  }
  if (info.max_completion_tokens.set) return {info.max_completion_tokens.value, true};
  return {info.max_tokens.value, true};
}

std::string WithMaxTokens(std::string_view body, int64_t n) {
  // Edited as text, as RewriteForUsage().
  const std::optional<internal::TopLevelObject> top = internal::ReadTopLevelObject(body, kMaxDepth);
  if (!top) return std::string(body);
  const std::string value = std::to_string(n);
  return Edited(body, *top, internal::MemberEdit{"max_tokens", value});
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
    json::basic_parser<UsageFields> parser(json::parse_options{});
    boost::system::error_code ec;
    parser.write_some(true, body.data() + i, body.size() - i, ec);
    if (ec || !parser.done()) continue;
    std::optional<Usage> u = parser.handler().Result();
    if (u) return u;
  }
  if (body.find(kKey) == std::string_view::npos) return std::nullopt;
  return ReadChunkUsage(body);
}

}  // namespace brix::openai
