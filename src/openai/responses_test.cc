#include "openai/responses.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>

namespace brix::openai {
namespace {

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(BRIX_OPENAI_TESTDATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ResponsesTest, ChatCompletionMatchesGolden) {
  const ResponseMeta meta{ChatCompletionId("0123456789abcdef0123456789abcdef"), 1763800000,
                          "meta-llama/Llama-3.1-8B-Instruct"};
  const Choice choice{0, "Hello! How can I help you today?", FinishReason::kStop, {}};
  EXPECT_EQ(ChatCompletionBody(meta, {&choice, 1}, Usage{12, 9, std::nullopt}),
            ReadTestdata("chat_completion.json"));
}

TEST(ResponsesTest, TextCompletionMatchesGolden) {
  const ResponseMeta meta{CompletionId("0123456789abcdef0123456789abcdef"), 1763800000, "m"};
  const Choice choice{0, " Paris.", FinishReason::kLength, {}};
  EXPECT_EQ(TextCompletionBody(meta, {&choice, 1}, Usage{5, 2, std::nullopt}),
            ReadTestdata("text_completion.json"));
}

TEST(ResponsesTest, ChatStreamMatchesGolden) {
  const ResponseMeta meta{"chatcmpl-r", 1763800000, "m"};
  std::string out;
  AppendChatRoleChunk(meta, 0, nullptr, &out);
  AppendChatDeltaChunk(meta, 0, "Hello", nullptr, nullptr, nullptr, &out);
  const FinishReason length = FinishReason::kLength;
  const StopReason none;
  AppendChatDeltaChunk(meta, 0, "!", &length, &none, nullptr, &out);
  AppendChatUsageChunk(meta, Usage{12, 2, std::nullopt}, &out);
  AppendDone(&out);
  EXPECT_EQ(out, ReadTestdata("chat_stream.txt"));
}

TEST(ResponsesTest, CompletionStreamMatchesGolden) {
  const ResponseMeta meta{"cmpl-r", 1763800000, "m"};
  std::string out;
  AppendCompletionChunk(meta, 0, " Par", nullptr, nullptr, nullptr, &out);
  const FinishReason stop = FinishReason::kStop;
  const StopReason newline = std::string("\n");
  AppendCompletionChunk(meta, 0, "is", &stop, &newline, nullptr, &out);
  AppendCompletionUsageChunk(meta, Usage{5, 2, std::nullopt}, &out);
  AppendDone(&out);
  EXPECT_EQ(out, ReadTestdata("completion_stream.txt"));
}

TEST(ResponsesTest, ModelListMatchesGolden) {
  ModelCard base = BaseModelCard("m", "/models/llama", 4096, 1763800000);
  ModelCard lora = LoraModelCard("sql-lora", "/adapters/sql", "m", 1763800000);
  EXPECT_TRUE(base.permission_id.starts_with("modelperm-"));
  EXPECT_EQ(base.permission_id.size(), 10u + 32u);
  base.permission_id = "modelperm-abc";
  lora.permission_id = "modelperm-def";
  const ModelCard cards[] = {base, lora};
  EXPECT_EQ(ModelListBody(cards), ReadTestdata("models.json"));
}

TEST(ResponsesTest, ContinuousUsageOnEveryChunk) {
  const ResponseMeta meta{"chatcmpl-r", 7, "m"};
  std::string out;
  const Usage start{3, 0, std::nullopt};
  AppendChatRoleChunk(meta, 0, &start, &out);
  EXPECT_EQ(out,
            "data: {\"id\":\"chatcmpl-r\",\"object\":\"chat.completion.chunk\",\"created\":7,"
            "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
            "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":"
            "{\"prompt_tokens\":3,\"total_tokens\":3,\"completion_tokens\":0},"
            "\"prompt_token_ids\":null}\n\n");
  out.clear();
  const Usage running{3, 1, std::nullopt};
  AppendCompletionChunk(meta, 1, "x", nullptr, nullptr, &running, &out);
  EXPECT_NE(out.find("\"usage\":{\"prompt_tokens\":3,\"total_tokens\":4,\"completion_tokens\":1,"
                     "\"prompt_tokens_details\":null}"),
            std::string::npos);
}

TEST(ResponsesTest, CachedTokensDetails) {
  const ResponseMeta meta{"chatcmpl-r", 7, "m"};
  std::string out;
  AppendChatUsageChunk(meta, Usage{10, 2, 8}, &out);
  EXPECT_NE(out.find("\"usage\":{\"prompt_tokens\":10,\"total_tokens\":12,\"completion_tokens\":2,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":8}}"),
            std::string::npos);
}

TEST(ResponsesTest, StopReasonTokenIdAndAbort) {
  const ResponseMeta meta{"cmpl-r", 7, "m"};
  const Choice choices[] = {{0, "a", FinishReason::kStop, int64_t{128009}},
                            {1, "b", FinishReason::kAbort, {}}};
  const std::string body = TextCompletionBody(meta, choices, Usage{1, 2, std::nullopt});
  EXPECT_NE(body.find("\"finish_reason\":\"stop\",\"stop_reason\":128009"), std::string::npos);
  EXPECT_NE(body.find("\"index\":1,\"text\":\"b\",\"logprobs\":null,\"finish_reason\":\"abort\""),
            std::string::npos);
  EXPECT_TRUE(boost::json::parse(body).is_object());
}

TEST(ResponsesTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  AppendChatDeltaChunk(ResponseMeta{"c", 1, "m"}, 0, "a\xff\xc3\xa9", nullptr, nullptr, nullptr,
                       &out);
  EXPECT_NE(out.find("\"content\":\"a\xef\xbf\xbd\xc3\xa9\""), std::string::npos);
}

TEST(ResponsesTest, OtherEndpoints) {
  const int64_t tokens[] = {128000, 9906};
  EXPECT_EQ(TokenizeBody(tokens, 4096),
            R"({"count":2,"max_model_len":4096,"tokens":[128000,9906],"token_strs":null})");
  const std::vector<std::string> strs = {"<|begin_of_text|>", "Hello"};
  EXPECT_EQ(TokenizeBody(tokens, 8, &strs),
            R"({"count":2,"max_model_len":8,"tokens":[128000,9906],)"
            R"("token_strs":["<|begin_of_text|>","Hello"]})");
  EXPECT_EQ(DetokenizeBody("Hi \"x\""), R"({"prompt":"Hi \"x\""})");
  EXPECT_EQ(VersionBody("0.11.0"), R"({"version":"0.11.0"})");
  EXPECT_EQ(LoraLoadedText("a"), "Success: LoRA adapter 'a' added successfully.");
  EXPECT_EQ(LoraUnloadedText("a"), "Success: LoRA adapter 'a' removed successfully.");
}

TEST(ResponsesTest, Ids) {
  EXPECT_EQ(ChatCompletionId("abc"), "chatcmpl-abc");
  EXPECT_EQ(CompletionId("abc"), "cmpl-abc");
  const std::string id = NewRequestId();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace brix::openai
