// Fuzzes every request parser and the gateway helpers with arbitrary bytes. None may crash; every
// error they return must serialise to valid JSON with a 4xx status. The gateway's body rewrites,
// which edit the text, are checked against a document-based reference kept here. Seeds:
// fuzz_corpus/requests/.
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/check.h"
#include "openai/gateway.h"
#include "openai/internal/json_members.h"
#include "openai/requests.h"

namespace {

namespace json = boost::json;
using brix::openai::ApiError;

constexpr size_t kMaxDepth = 256;  // as gateway.cc

std::optional<json::value> Parse(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return v;
}

// The document of `text` for comparisons. Boost.JSON 1.81 reads some numbers an ulp apart
// depending on whether 33 bytes follow them in its buffer (a fast path), and a rewrite changes what
// follows the members it keeps; with trailing spaces every number takes the same path, so the same
// text always reads as the same value.
std::optional<json::value> ParseToCompare(std::string_view text) {
  return Parse(std::string(text) + std::string(40, ' '));
}

// Document equality in which NaN (what Boost.JSON reads 0e999 as) equals NaN.
bool Same(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  if (a.is_double()) {
    return a.get_double() == b.get_double() ||
           (std::isnan(a.get_double()) && std::isnan(b.get_double()));
  }
  if (a.is_array()) {
    const json::array& x = a.get_array();
    const json::array& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!Same(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const json::object& x = a.get_object();
    const json::object& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& [key, value] : x) {
      const json::value* other = y.if_contains(key);
      if (other == nullptr || !Same(value, *other)) return false;
    }
    return true;
  }
  return a == b;
}

// The reference rewrites: what gateway.cc decided and produced when it parsed the whole body into
// a document and serialized it again. Nullopt: the body passes through unchanged.
bool ReferenceLaxBool(const json::value* v) {
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

// Whether the document `v` of a body is one RewriteForUsage() rewrites.
bool ReferenceAsksForUsage(const std::optional<json::value>& v) {
  if (!v || !v->is_object()) return false;
  const json::object& o = v->get_object();
  if (!ReferenceLaxBool(o.if_contains("stream"))) return false;
  const json::value* options = o.if_contains("stream_options");
  if (options == nullptr || options->is_null()) return true;
  if (!options->is_object()) return false;
  const json::value* include = options->get_object().if_contains("include_usage");
  return include != nullptr && !ReferenceLaxBool(include);
}

// The document RewriteForUsage() makes of `v`.
json::value ReferenceUsageEdit(json::value v) {
  json::object& o = v.get_object();
  json::object rewritten;
  if (const json::value* options = o.if_contains("stream_options");
      options != nullptr && options->is_object()) {
    rewritten = options->get_object();
  }
  rewritten["include_usage"] = true;
  if (rewritten.contains("continuous_usage_stats")) rewritten["continuous_usage_stats"] = false;
  o["stream_options"] = std::move(rewritten);
  return v;
}

std::optional<json::value> ReferenceWithMaxTokens(std::string_view body, int64_t n) {
  std::optional<json::value> v = ParseToCompare(body);
  if (!v || !v->is_object()) return std::nullopt;
  v->get_object()["max_tokens"] = n;
  return v;
}

// A rewrite's output is the input unchanged when the reference leaves it so, else valid JSON
// whose document is the reference's (the members not edited keep their text, so they parse to
// the same values, exact or not).
void CheckRewrite(std::string_view input, const std::string& output,
                  const std::optional<json::value>& reference) {
  if (!reference) {
    BRIX_CHECK(output == input) << output;
    return;
  }
  const std::optional<json::value> v = ParseToCompare(output);
  BRIX_CHECK(v && Same(*v, *reference)) << output;
}

// The scan behind the rewrites: it takes a body exactly when Boost.JSON reads it as an object,
// the members its validating reader finds are those ScanMembers() finds, and the last member of
// each key holds the value the document has for it.
void CheckMembers(std::string_view body) {
  namespace internal = brix::openai::internal;
  const std::optional<json::value> document = ParseToCompare(body);
  const std::optional<internal::TopLevelObject> top = internal::ReadTopLevelObject(body, kMaxDepth);
  BRIX_CHECK(top.has_value() == (document && document->is_object()));
  if (!top) return;
  const auto scanned = internal::ScanMembers(body.substr(top->begin, top->end - top->begin));
  BRIX_CHECK(scanned && scanned->size() == top->members.size());
  std::map<std::string, std::string_view> last;
  for (size_t i = 0; i < scanned->size(); ++i) {
    const internal::JsonMember& a = (*scanned)[i];
    const internal::JsonMember& b = top->members[i];
    BRIX_CHECK(a.key.data() == b.key.data() && a.key.size() == b.key.size() &&
               a.text.data() == b.text.data() && a.text.size() == b.text.size() &&
               a.value.data() == b.value.data() && a.value.size() == b.value.size());
    const std::optional<json::value> key = Parse("\"" + std::string(a.key) + "\"");
    BRIX_CHECK(key && key->is_string() && internal::KeyIs(a.key, key->get_string()));
    last[std::string(key->get_string())] = a.value;
  }
  const json::object& o = document->get_object();
  BRIX_CHECK(last.size() == o.size());
  for (const auto& [key, value] : last) {
    const json::value* expected = o.if_contains(key);
    const std::optional<json::value> got = ParseToCompare(value);
    BRIX_CHECK(expected != nullptr && got && Same(*got, *expected)) << key;
  }
}

void CheckError(const ApiError& e) {
  BRIX_CHECK(e.status >= 400 && e.status < 500) << e.status;
  boost::system::error_code ec;
  boost::json::parse(brix::openai::ErrorBody(e), ec);
  BRIX_CHECK(!ec) << brix::openai::ErrorBody(e);
}

template <typename R>
void Check(const R& r) {
  if (!r) CheckError(r.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  namespace o = brix::openai;
  auto chat = o::ParseChatCompletionRequest(body);
  Check(chat);
  if (chat) {
    for (int64_t prompt : {0, 5, 5000}) Check(o::ResolveGeneration(*chat, prompt, 4096));
  }
  auto completion = o::ParseCompletionRequest(body);
  Check(completion);
  if (completion) Check(o::ResolveGeneration(*completion, 10, 32));
  Check(o::ParseTokenizeRequest(body));
  Check(o::ParseDetokenizeRequest(body));
  Check(o::ParseLoadLoraRequest(body));
  Check(o::ParseUnloadLoraRequest(body));
  // The event-driven reading must agree with the document reading on every body.
  const auto inspected = o::InspectRequest(body);
  const auto reference = o::InspectRequestWithDocument(body);
  Check(inspected);
  BRIX_CHECK(inspected.has_value() == reference.has_value());
  if (inspected) {
    BRIX_CHECK(*inspected == *reference);
    // What the gateway reads (the streaming flags, the output cap) is what the engine's own
    // parse reads, whenever that parse accepts the body.
    const auto same_stream = [&](const auto& parsed) {
      return inspected->stream == parsed.stream &&
             (!parsed.stream || (inspected->include_usage == parsed.IncludeUsage() &&
                                 inspected->continuous_usage == parsed.ContinuousUsage()));
    };
    if (chat) {
      const o::OutputCap cap = o::RequestedOutputCap(*inspected, true);
      BRIX_CHECK(cap.valid && cap.tokens == chat->RequestedMaxTokens());
      BRIX_CHECK(same_stream(*chat));
    }
    if (completion) {
      const o::OutputCap cap = o::RequestedOutputCap(*inspected, false);
      BRIX_CHECK(cap.valid && cap.tokens == completion->max_tokens);
      BRIX_CHECK(same_stream(*completion));
    }
  }
  CheckMembers(body);
  const o::UsageRewrite rewrite = o::RewriteForUsage(body);
  // Decided on the body as it came (numbers read as the old whole-body parse read them), compared
  // as ParseToCompare() reads both.
  std::optional<json::value> expected;
  if (ReferenceAsksForUsage(Parse(body))) expected = ReferenceUsageEdit(*ParseToCompare(body));
  BRIX_CHECK(rewrite.strip_usage == expected.has_value());
  CheckRewrite(body, rewrite.body, expected);
  if (rewrite.strip_usage) {
    auto info = o::InspectRequest(rewrite.body);
    BRIX_CHECK(info && info->stream && info->include_usage && !info->continuous_usage);
  }
  const int64_t n = size % 2 == 0 ? static_cast<int64_t>(size) : INT64_MIN;
  const std::string capped = o::WithMaxTokens(body, n);
  CheckRewrite(body, capped, ReferenceWithMaxTokens(body, n));
  if (capped != body) {
    BRIX_CHECK(o::WithMaxTokens(capped, n) == capped) << capped;  // idempotent
  }
  o::Usage usage;
  (void)o::ClassifySseData(body, &usage);
  (void)o::ReadChunkUsage(body);
  (void)o::ReadResponseUsage(body);
  return 0;
}
