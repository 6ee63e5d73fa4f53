#include "openai/gateway.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <optional>
#include <string>
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

TEST(MaxTokensTest, ReadsTheCapAVllmRequestAsksFor) {
  EXPECT_EQ(RequestedMaxTokens(R"({"max_tokens":100})"), 100);
  EXPECT_EQ(RequestedMaxTokens(R"({"max_tokens":100,"max_completion_tokens":7})"), 7);
  EXPECT_EQ(RequestedMaxTokens(R"({"max_completion_tokens":null,"max_tokens":5})"), 5);
  EXPECT_EQ(RequestedMaxTokens(R"({"max_tokens":null})"), std::nullopt);
  EXPECT_EQ(RequestedMaxTokens(R"({"max_tokens":"100"})"), std::nullopt);
  EXPECT_EQ(RequestedMaxTokens(R"({"max_tokens":-1})"), std::nullopt);
  EXPECT_EQ(RequestedMaxTokens("{}"), std::nullopt);
  EXPECT_EQ(RequestedMaxTokens("not json"), std::nullopt);
}

TEST(MaxTokensTest, WithMaxTokensSetsTheCapAndKeepsTheRest) {
  const std::string body = WithMaxTokens(R"({"model":"m","messages":[],"stream":true})", 64);
  EXPECT_EQ(RequestedMaxTokens(body), 64);
  EXPECT_NE(body.find(R"("model":"m")"), std::string::npos);
  EXPECT_NE(body.find(R"("stream":true)"), std::string::npos);
  EXPECT_EQ(WithMaxTokens("[1]", 5), "[1]");
}

}  // namespace
}  // namespace brix::openai
