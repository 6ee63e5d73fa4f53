#include "openai/gateway.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace brix::openai {
namespace {

namespace json = boost::json;

TEST(InspectRequestTest, ReadsRoutingFields) {
  auto info = InspectRequest(R"({"model":"m","stream":true,"messages":[]})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->model, "m");
  EXPECT_TRUE(info->stream);
  EXPECT_FALSE(info->include_usage);
  info = InspectRequest(R"({"stream":1,"stream_options":{}})");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->model);
  EXPECT_TRUE(info->include_usage);
  info = InspectRequest(
      R"({"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}})");
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->continuous_usage);
  info = InspectRequest(R"({"stream":false,"stream_options":{}})");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->include_usage);
  // `stream` is read as pydantic reads a bool, not by Python truthiness.
  info = InspectRequest(R"({"stream":"false","stream_options":{}})");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->stream);
  EXPECT_EQ(RewriteForUsage(R"({"stream":"false"})").body, R"({"stream":"false"})");
  auto bad = InspectRequest("{");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().type, "Bad Request");
}

// InspectRequest() reads the fields without building a document; the document reading is the
// reference. Bodies chosen to hit each rule: duplicates (the last wins), lax booleans, a
// stream_options that is not an object or repeats, nested look-alike keys, split strings.
TEST(InspectRequestTest, AgreesWithTheDocumentReading) {
  const std::string long_model(5000, 'm');
  const std::vector<std::string> bodies = {
      R"({})",
      R"({"model":"a","model":"b"})",
      R"({"model":"a","model":3})",
      R"({"model":null})",
      R"({"model":["x"],"stream":true})",
      R"({"model":"esc"apedé"})",
      "{\"model\":\"" + long_model + "\"}",
      R"({"stream":true,"stream":false})",
      R"({"stream":"YES","stream_options":{"include_usage":"on"}})",
      R"({"stream":1.0,"stream_options":{"include_usage":0}})",
      R"({"stream":2,"stream_options":{}})",
      R"({"stream":"1","stream_options":null})",
      R"({"stream":{},"stream_options":{}})",
      R"({"stream":true,"stream_options":[{"include_usage":false}]})",
      R"({"stream":true,"stream_options":{"include_usage":false},"stream_options":{}})",
      R"({"stream":true,"stream_options":{},"stream_options":3})",
      R"({"stream":true,"stream_options":{"include_usage":{"a":1},"continuous_usage_stats":1}})",
      R"({"stream":true,"stream_options":{"include_usage":null,"continuous_usage_stats":true}})",
      R"({"stream":true,"stream_options":{"x":{"include_usage":false}},"model":"m"})",
      R"({"stream":true,"stream_options":{"continuous_usage_stats":"true","include_usage":[]}})",
      R"({"messages":[{"model":"inner","stream":true}],"model":"outer"})",
      R"({"metadata":{"stream_options":{"include_usage":false}},"stream":true,
          "stream_options":{"include_usage":true}})",
      " \n{\"model\": \"m\" , \"stream\" : true}\t\n",
      R"([{"model":"m"}])",
      R"("model")",
      R"({"model":"m"} {})",
      R"({"model":"m",})",
      "",
      R"({"max_tokens":100,"max_completion_tokens":"7"})",
      R"({"max_tokens":1.0,"max_tokens":"x","max_completion_tokens":[3]})",
      R"({"max_tokens":true,"max_completion_tokens":{"a":1},"max_completion_tokens":null})",
      R"({"max_tokens":-9223372036854775808,"max_completion_tokens":18446744073709551615})",
      R"({"max_tokens":1e400,"max_completion_tokens":"12345678901234567890"})",
      R"({"max\u005ftokens":4,"metadata":{"max_tokens":5}})",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    const auto fast = InspectRequest(body);
    const auto reference = InspectRequestWithDocument(body);
    ASSERT_EQ(fast.has_value(), reference.has_value());
    if (!fast) {
      EXPECT_EQ(fast.error().message, reference.error().message);
      continue;
    }
    EXPECT_EQ(fast->model, reference->model);
    EXPECT_EQ(fast->stream, reference->stream);
    EXPECT_EQ(fast->include_usage, reference->include_usage);
    EXPECT_EQ(fast->continuous_usage, reference->continuous_usage);
    EXPECT_EQ(fast->max_tokens, reference->max_tokens);
    EXPECT_EQ(fast->max_completion_tokens, reference->max_completion_tokens);
  }
  // And a few answers spelled out, so that both readings cannot be wrong together.
  EXPECT_EQ(InspectRequest(R"({"model":"a","model":"b"})")->model, "b");
  EXPECT_FALSE(InspectRequest(R"({"model":"a","model":3})")->model);
  auto repeated = InspectRequest(
      R"({"stream":true,"stream_options":{"include_usage":false},"stream_options":{}})");
  EXPECT_TRUE(repeated->include_usage);
  auto nested = InspectRequest(R"({"messages":[{"model":"inner"}],"model":"outer"})");
  EXPECT_EQ(nested->model, "outer");
  EXPECT_TRUE(
      InspectRequest(R"({"stream":"YES","stream_options":{"include_usage":"on"}})")->include_usage);
}

TEST(RewriteForUsageTest, AddsIncludeUsageOnlyForStreams) {
  auto r = RewriteForUsage(R"({"model":"m","stream":true,"messages":[]})");
  EXPECT_TRUE(r.strip_usage);
  const json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("stream_options").at("include_usage"), true);
  EXPECT_EQ(v.at("model"), "m");

  auto plain = RewriteForUsage(R"({"model":"m","messages":[]})");
  EXPECT_FALSE(plain.strip_usage);
  EXPECT_EQ(plain.body, R"({"model":"m","messages":[]})");

  auto wanted = RewriteForUsage(R"({"stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_FALSE(wanted.strip_usage);

  auto continuous = RewriteForUsage(
      R"({"stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true}})");
  EXPECT_TRUE(continuous.strip_usage);
  const json::value c = json::parse(continuous.body);
  EXPECT_EQ(c.at("stream_options").at("include_usage"), true);
  EXPECT_EQ(c.at("stream_options").at("continuous_usage_stats"), false);

  auto invalid = RewriteForUsage(R"({"stream":true,"stream_options":3})");
  EXPECT_FALSE(invalid.strip_usage);
  EXPECT_EQ(RewriteForUsage("{").body, "{");
}

// The rewrite edits the body's text: whatever it does not edit reaches the engine byte for byte.
// A parse and re-serialize would not: Boost.JSON reads some 17-digit doubles an ulp or two off and
// writes doubles in its own notation, reads 1e999 as infinity and 0e999 as NaN (then writes
// them as Infinity / NaN, which are not JSON), and re-escapes strings.
const std::string kExactFields =
    R"("temperature":0.30000000000000004,"top_p":458124.55122160283,"seed":-0,)"
    R"("extra":{"big":1e999,"zero":0e999,"tiny":-2.5E-400,"list":[1.0,1e2,12345678901234567890]},)"
    R"("messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 é \/ \"q\" \\ \u005c"}])";

TEST(RewriteForUsageTest, KeepsEveryOtherByteOfTheBody) {
  const std::string body = R"({"model":"m","stream":true,)" + kExactFields + "}";
  const UsageRewrite r = RewriteForUsage(body);
  EXPECT_TRUE(r.strip_usage);
  EXPECT_EQ(r.body,
            body.substr(0, body.size() - 1) + R"(,"stream_options":{"include_usage":true}})");
  // The client's other stream_options members keep their text too.
  const std::string with_options =
      R"({"stream":true,"stream_options":{"include_usage":false,"x":0.30000000000000004}})";
  EXPECT_EQ(RewriteForUsage(with_options).body,
            R"({"stream":true,"stream_options":{"include_usage":true,"x":0.30000000000000004}})");
}

TEST(RewriteForUsageTest, RemovesEveryStreamOptionsAndWritesOne) {
  // The last of repeated keys is the one vLLM (Python's json) reads, at both levels.
  const UsageRewrite r = RewriteForUsage(
      R"({"stream_options":{"include_usage":true},"stream":true,"stream_options":)"
      R"({"x":1e999,"include_usage":false,"include_usage":null,"continuous_usage_stats":true}})");
  EXPECT_TRUE(r.strip_usage);
  EXPECT_EQ(r.body, R"({"stream":true,"stream_options":)"
                    R"({"x":1e999,"include_usage":true,"continuous_usage_stats":false}})");
  const std::string wanted =
      R"({"stream_options":{"include_usage":false},"stream":true,"stream_options":{}})";
  EXPECT_FALSE(RewriteForUsage(wanted).strip_usage);
  EXPECT_EQ(RewriteForUsage(wanted).body, wanted);
}

TEST(RewriteForUsageTest, ReadsEscapedKeys) {
  const UsageRewrite r = RewriteForUsage(
      R"({"stream\u005foptions":{"include\u005fusage":false,"y":0e999},"\u0073tream":true,)"
      R"("stream_options":{"include_usage":false,"continuous\u005fusage_stats":1}})");
  EXPECT_TRUE(r.strip_usage);
  EXPECT_EQ(r.body, R"({"\u0073tream":true,"stream_options":)"
                    R"({"include_usage":true,"continuous_usage_stats":false}})");
  // An escaped key that decodes to something else is another member.
  const std::string other = R"({"stream":true,"stream\u006fptions":{"include_usage":false}})";
  EXPECT_EQ(RewriteForUsage(other).body,
            other.substr(0, other.size() - 1) + R"(,"stream_options":{"include_usage":true}})");
}

TEST(RewriteForUsageTest, LeavesNestedLookAlikesAlone) {
  const std::string body =
      R"({"stream":true,"metadata":{"stream_options":{"include_usage":false},"stream":false},)"
      R"("messages":[{"stream_options":3,"max_tokens":2}]})";
  EXPECT_EQ(RewriteForUsage(body).body,
            body.substr(0, body.size() - 1) + R"(,"stream_options":{"include_usage":true}})");
}

TEST(RewriteForUsageTest, NormalisesOnlyTheSpaceBetweenTopLevelMembers) {
  const std::string body =
      " \r\n{ \"stream\" :\ttrue ,\n  \"messages\" : [ { \"role\" : \"user\" } ] ,\n"
      " \"stream_options\" : { \"continuous_usage_stats\" : true , \"include_usage\" : false "
      "}\n}\n ";
  EXPECT_EQ(RewriteForUsage(body).body,
            " \r\n{\"stream\" :\ttrue,\"messages\" : [ { \"role\" : \"user\" } ],"
            "\"stream_options\":{\"continuous_usage_stats\":false,\"include_usage\":true}}\n ");
}

TEST(RewriteForUsageTest, KeepsTodaysDecisions) {
  struct Case {
    std::string body;
    bool rewritten;
  };
  const std::vector<Case> cases = {
      {R"({})", false},
      {R"({"stream":false})", false},
      {R"({"stream":"YES"})", true},  // pydantic's lax bool
      {R"({"stream":1.0})", true},
      {R"({"stream":2})", false},
      {R"({"stream":"false"})", false},
      {R"({"stream":true,"stream":false})", false},
      {R"({"stream":true,"stream_options":null})", true},
      {R"({"stream":true,"stream_options":{}})", false},  // include_usage defaults to true
      {R"({"stream":true,"stream_options":{"include_usage":"on"}})", false},
      {R"({"stream":true,"stream_options":{"include_usage":0}})", true},
      // Not an object: vLLM answers with a 400 itself.
      {R"({"stream":true,"stream_options":3})", false},
      {R"({"stream":true,"stream_options":"x"})", false},
      {R"({"stream":true,"stream_options":true})", false},
      {R"({"stream":true,"stream_options":[{"include_usage":false}]})", false},
      {R"({"stream":true,"stream_options":{},"stream_options":[]})", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const UsageRewrite r = RewriteForUsage(c.body);
    EXPECT_EQ(r.strip_usage, c.rewritten);
    if (!c.rewritten) {
      EXPECT_EQ(r.body, c.body);
    }
  }
  EXPECT_EQ(RewriteForUsage(R"({"stream":true,"stream_options":null})").body,
            R"({"stream":true,"stream_options":{"include_usage":true}})");
}

// Bodies the functions pass through untouched: not JSON as Boost.JSON reads it (strict: no
// comments, no trailing commas, valid UTF-8, depth at most 256), or not an object.
std::vector<std::string> NotJsonObjects() {
  std::string deep = R"({"stream":true,"a":)";
  for (int i = 0; i < 300; ++i) deep += "[";
  for (int i = 0; i < 300; ++i) deep += "]";
  deep += "}";
  return {"",
          " ",
          "{",
          "}",
          R"({"stream":true)",
          R"({"stream":true,})",
          R"({"stream":true} {})",
          R"({"stream":true}})",
          R"({"stream":true,"a":01})",
          R"({"stream":true,"a":"\x"})",
          R"({"stream":true,"a":"unterminated})",
          R"({"stream":true,"a":"\"})",
          R"({'stream':true})",
          R"({"stream":true /* c */})",
          R"({"stream":true,"a":tru})",
          "{\"stream\":true,\"a\":\"\xff\"}",
          "{\"stream\":true,\"a\":\"\x01\"}",
          std::string("{\"stream\":true}\0", 16),
          R"([{"stream":true}])",
          R"("stream")",
          "null",
          deep};
}

TEST(RewriteForUsageTest, PassesAnythingButAJsonObjectThrough) {
  for (const std::string& body : NotJsonObjects()) {
    SCOPED_TRACE(body);
    const UsageRewrite r = RewriteForUsage(body);
    EXPECT_FALSE(r.strip_usage);
    EXPECT_EQ(r.body, body);
  }
}

// The rewrite validates bodies by a fast scan of its own, and leaves to Boost.JSON only what that
// scan is not sure of; either way a body is rewritten exactly when boost::json::parse (depth 256)
// reads it as an object. Values at the edges of JSON's grammar, UTF-8 and the depth limit.
TEST(RewriteForUsageTest, AcceptsExactlyWhatBoostJsonAccepts) {
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  const std::vector<std::pair<std::string, bool>> values = {
      {"\"\xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"",
       true},
      {"\"\xc0\x80\"", false},          // overlong
      {"\"\xe0\x9f\xbf\"", false},      // overlong
      {"\"\xed\xa0\x80\"", false},      // a surrogate
      {"\"\xf4\x90\x80\x80\"", false},  // beyond U+10FFFF
      {"\"\xf5\x80\x80\x80\"", false},
      {"\"\x80\"", false},
      {"\"\xe2\x82\"", false},  // truncated
      {"\"\x7f\"", true},
      {"\"\x1f\"", false},
      {R"("\ud83d\ude00 \u00e9 \uFFFF \/ \b\f\n\r\t")", true},
      {R"("\ud800")", false},
      {R"("\udc00")", false},
      {R"("\ud800\u0041")", false},
      {R"("\ud800\n")", false},
      {R"("\u12G4")", false},
      {R"("\x")", false},
      {"-0", true},
      {"-0.0e-0", true},
      {"1E+9", true},
      {"123456789012345678901234567890", true},
      {"1e2147483647", true},
      {"1e2147483648", false},  // Boost.JSON's exponent_overflow
      {"-", false},
      {"01", false},
      {"1.", false},
      {".5", false},
      {"1e", false},
      {"1e+", false},
      {"+1", false},
      {"tru", false},
      {"nul", false},
      {"[1,]", false},
      {"{\"a\"}", false},
      {"{\"a\":1,}", false},
      {nested(255), true},  // with the top-level object: 256 deep
      {nested(256), false},
  };
  for (const auto& [value, valid] : values) {
    const std::string body = R"({"stream":true,"v":)" + value + "}";
    SCOPED_TRACE(body);
    json::parse_options options;
    options.max_depth = 256;
    boost::system::error_code ec;
    json::parse(body, ec, {}, options);
    EXPECT_EQ(!ec, valid) << "the test's expectation is not Boost.JSON's";
    const UsageRewrite r = RewriteForUsage(body);
    EXPECT_EQ(r.strip_usage, valid);
    EXPECT_EQ(r.body == body, !valid);
  }
}

TEST(ReadResponseUsageTest, ReadsTopLevelUsageOnlyOutsideStrings) {
  const std::string body =
      R"({"id":"c","choices":[{"message":{"content":"say \"usage\": {\"prompt_tokens\":9}"}}],)"
      R"("usage": {"prompt_tokens":11,"total_tokens":16,"completion_tokens":5,)"
      R"("prompt_tokens_details":null},"metrics":null})";
  auto usage = ReadResponseUsage(body);
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->prompt_tokens, 11);
  EXPECT_EQ(usage->completion_tokens, 5);
  // The same answer as a full parse.
  EXPECT_EQ(ReadChunkUsage(body)->prompt_tokens, 11);
  EXPECT_FALSE(ReadResponseUsage(R"({"id":"c","choices":[]})"));
  EXPECT_FALSE(ReadResponseUsage(R"({"content":"\"usage\":{\"prompt_tokens\":1}"})"));
  EXPECT_FALSE(ReadResponseUsage("not json \"usage\": {"));
  EXPECT_FALSE(ReadResponseUsage(""));
}

// The usage object is read event by event; a full parse of the body is the reference.
TEST(ReadResponseUsageTest, AgreesWithAFullParse) {
  const std::vector<std::string> usages = {
      R"({"prompt_tokens":3,"completion_tokens":4})",
      R"({"prompt_tokens":3})",
      R"({"completion_tokens":4})",
      R"({"prompt_tokens":"3","completion_tokens":4})",
      R"({"prompt_tokens":3.0,"completion_tokens":4.5})",
      R"({"prompt_tokens":-2,"completion_tokens":18446744073709551615})",
      R"({"prompt_tokens":1,"prompt_tokens":2,"completion_tokens":null})",
      R"({"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":7}})",
      R"({"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":7},"prompt_tokens_details":3})",
      R"({"prompt_tokens":1,"prompt_tokens_details":{"x":{"cached_tokens":7}}})",
      R"({"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":[7]}})",
      R"({"prompt_tokens":1,"prompt_tokens_details":[{"cached_tokens":7}]})",
      R"({"nested":{"prompt_tokens":9},"prompt_tokens":1,"completion_tokens":2})",
      R"({"prompt_tokens":true})",
      R"({})",
  };
  for (const std::string& usage : usages) {
    const std::string body = R"({"id":"c","choices":[],"usage":)" + usage + "}";
    SCOPED_TRACE(body);
    const std::optional<Usage> fast = ReadResponseUsage(body);
    const std::optional<Usage> reference = ReadChunkUsage(body);
    ASSERT_EQ(fast.has_value(), reference.has_value());
    if (!fast) continue;
    EXPECT_EQ(fast->prompt_tokens, reference->prompt_tokens);
    EXPECT_EQ(fast->completion_tokens, reference->completion_tokens);
    EXPECT_EQ(fast->cached_tokens, reference->cached_tokens);
  }
  auto cached = ReadResponseUsage(
      R"({"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":7}}})");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->cached_tokens, 7);
}

TEST(ReadResponseUsageTest, CountsThatAreNotInt64AreIgnoredNotFatal) {
  // Found by openai_requests_fuzzer: a count too big for int64 made to_number() throw.
  const std::string huge = R"({"ies":[],"usage":{"prompt_tokens":1888888888888888888888888888,)"
                           R"("completion_tokens":1}})";
  EXPECT_FALSE(ReadChunkUsage(huge));
  EXPECT_FALSE(ReadResponseUsage(huge));
  auto fractional = ReadChunkUsage(R"({"usage":{"prompt_tokens":3,"completion_tokens":1.5}})");
  ASSERT_TRUE(fractional);
  EXPECT_EQ(fractional->prompt_tokens, 3);
  EXPECT_EQ(fractional->completion_tokens, 0);
}

TEST(ClassifySseDataTest, FindsTheUsageChunk) {
  std::string stream;
  const ResponseMeta meta{"chatcmpl-r", 1, "m"};
  AppendChatRoleChunk(meta, 0, nullptr, &stream);
  const std::string role = stream.substr(6, stream.size() - 8);
  EXPECT_EQ(ClassifySseData(role), SseEventKind::kChunk);

  stream.clear();
  AppendChatUsageChunk(meta, Usage{12, 3, 5}, &stream);
  Usage usage;
  EXPECT_EQ(ClassifySseData(stream.substr(6, stream.size() - 8), &usage), SseEventKind::kUsageOnly);
  EXPECT_EQ(usage.prompt_tokens, 12);
  EXPECT_EQ(usage.completion_tokens, 3);
  EXPECT_EQ(usage.cached_tokens, 5);

  stream.clear();
  AppendCompletionUsageChunk(ResponseMeta{"cmpl-r", 1, "m"}, Usage{1, 2, std::nullopt}, &stream);
  EXPECT_EQ(ClassifySseData(stream.substr(6, stream.size() - 8)), SseEventKind::kUsageOnly);

  // Continuous usage: usage on a chunk with choices is not the usage-only chunk.
  stream.clear();
  const Usage running{1, 1, std::nullopt};
  AppendChatDeltaChunk(meta, 0, "x", nullptr, nullptr, &running, &stream);
  const std::string data = stream.substr(6, stream.size() - 8);
  EXPECT_EQ(ClassifySseData(data), SseEventKind::kChunk);
  ASSERT_TRUE(ReadChunkUsage(data));
  EXPECT_EQ(ReadChunkUsage(data)->completion_tokens, 1);

  EXPECT_EQ(ClassifySseData("[DONE]"), SseEventKind::kDone);
  EXPECT_EQ(ClassifySseData(" [DONE]\n"), SseEventKind::kDone);
  EXPECT_EQ(ClassifySseData(R"({"error":{"message":"x","type":"t","param":null,"code":500}})"),
            SseEventKind::kError);
  EXPECT_EQ(ClassifySseData(": keepalive"), SseEventKind::kOther);
  EXPECT_EQ(ClassifySseData(R"({"usage":)"), SseEventKind::kOther);
}

}  // namespace
}  // namespace brix::openai

namespace brix::openai {
namespace {

// The cap as vLLM reads it: `chat` for /v1/chat/completions, else /v1/completions.
OutputCap Cap(std::string_view body, bool chat) {
  const ApiResult<RequestInfo> info = InspectRequest(body);
  EXPECT_TRUE(info.has_value()) << body;
  return info ? RequestedOutputCap(*info, chat) : OutputCap{std::nullopt, false};
}

TEST(MaxTokensTest, ReadsTheCapAVllmRequestAsksFor) {
  EXPECT_EQ(Cap(R"({"max_tokens":100})", true).tokens, 100);
  EXPECT_EQ(Cap(R"({"max_tokens":100,"max_completion_tokens":7})", true).tokens, 7);
  EXPECT_EQ(Cap(R"({"max_completion_tokens":null,"max_tokens":5})", true).tokens, 5);
  EXPECT_EQ(Cap(R"({"max_tokens":null})", true).tokens, std::nullopt);
  EXPECT_EQ(Cap("{}", true).tokens, std::nullopt);
  EXPECT_TRUE(Cap("{}", true).valid);
  // pydantic's lax int: whole floats, numeric strings and booleans are caps vLLM honours.
  EXPECT_EQ(Cap(R"({"max_tokens":100.0})", true).tokens, 100);
  EXPECT_EQ(Cap(R"({"max_tokens":" +100 "})", true).tokens, 100);
  EXPECT_EQ(Cap(R"({"max_tokens":true})", true).tokens, 1);
  EXPECT_EQ(Cap(R"({"max_tokens":-1})", true).tokens, -1);  // vLLM's ResolveGeneration says no
  EXPECT_EQ(Cap(R"({"max_tokens":1e30})", true).tokens, INT64_MAX);
  EXPECT_EQ(Cap(R"({"max_tokens":18446744073709551615})", true).tokens, INT64_MAX);
  // The last of repeated keys counts.
  EXPECT_EQ(Cap(R"({"max_tokens":"x","max_tokens":3})", true).tokens, 3);
  EXPECT_EQ(Cap(R"({"max_tokens":3,"max_tokens":null})", true).tokens, std::nullopt);
  // Values vLLM rejects: no cap to judge, and not valid (nothing is rewritten).
  for (const char* body :
       {R"({"max_tokens":1.5})", R"({"max_tokens":"ten"})", R"({"max_tokens":[1]})",
        R"({"max_tokens":{}})", R"({"max_completion_tokens":"x","max_tokens":5})",
        R"({"max_completion_tokens":5,"max_tokens":0.5})"}) {
    SCOPED_TRACE(body);
    const OutputCap cap = Cap(body, true);
    EXPECT_FALSE(cap.valid);
    EXPECT_EQ(cap.tokens, std::nullopt);
  }
  // Nested look-alikes are not the field.
  EXPECT_EQ(Cap(R"({"metadata":{"max_tokens":9},"messages":[{"max_tokens":8}]})", true).tokens,
            std::nullopt);
}

TEST(MaxTokensTest, ACompletionWithoutACapGetsSixteen) {
  EXPECT_EQ(Cap("{}", false).tokens, 16);
  EXPECT_EQ(Cap(R"({"max_tokens":null})", false).tokens, 16);
  EXPECT_EQ(Cap(R"({"max_tokens":40})", false).tokens, 40);
  // Completions have no max_completion_tokens: an extra field vLLM ignores, whatever it holds.
  EXPECT_EQ(Cap(R"({"max_completion_tokens":7,"max_tokens":40})", false).tokens, 40);
  EXPECT_EQ(Cap(R"({"max_completion_tokens":"x"})", false).tokens, 16);
  EXPECT_FALSE(Cap(R"({"max_tokens":"x"})", false).valid);
}

TEST(MaxTokensTest, WithMaxTokensSetsTheCapAndKeepsTheRest) {
  const std::string body = WithMaxTokens(R"({"model":"m","messages":[],"stream":true})", 64);
  EXPECT_EQ(Cap(body, true).tokens, 64);
  EXPECT_NE(body.find(R"("model":"m")"), std::string::npos);
  EXPECT_NE(body.find(R"("stream":true)"), std::string::npos);
  EXPECT_EQ(WithMaxTokens("[1]", 5), "[1]");
}

TEST(MaxTokensTest, WithMaxTokensKeepsEveryOtherByte) {
  const std::string body = R"({"model":"m",)" + kExactFields + "}";
  EXPECT_EQ(WithMaxTokens(body, 64), body.substr(0, body.size() - 1) + R"(,"max_tokens":64})");
  EXPECT_EQ(WithMaxTokens("{}", 7), R"({"max_tokens":7})");
  EXPECT_EQ(WithMaxTokens(" { \n } \n", -3), " {\"max_tokens\":-3} \n");
  EXPECT_EQ(WithMaxTokens("{\"a\" : [ 1 ,2 ] }", INT64_MAX),
            "{\"a\" : [ 1 ,2 ],\"max_tokens\":9223372036854775807}");
}

TEST(MaxTokensTest, WithMaxTokensReplacesEveryTopLevelMaxTokens) {
  EXPECT_EQ(WithMaxTokens(R"({"max_tokens":1,"model":"m","max\u005ftokens":null,"x":1e999})", 64),
            R"({"model":"m","max_tokens":64,"x":1e999})");
  const std::string nested =
      R"({"metadata":{"max_tokens":1},"messages":[{"max_tokens":2}],"max_tokensx":3})";
  EXPECT_EQ(WithMaxTokens(nested, 64),
            nested.substr(0, nested.size() - 1) + R"(,"max_tokens":64})");
}

TEST(MaxTokensTest, WithMaxTokensPassesAnythingButAJsonObjectThrough) {
  for (const std::string& body : NotJsonObjects()) {
    SCOPED_TRACE(body);
    EXPECT_EQ(WithMaxTokens(body, 64), body);
  }
}

}  // namespace
}  // namespace brix::openai
