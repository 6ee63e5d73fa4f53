#include "gateway/internal/proxy.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tokenizer/chat.h"

namespace brix::gateway {
namespace {

TEST(TraceparentTest, KeepsTraceIdAndFlagsWithANewParentId) {
  std::string trace;
  const std::string in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::string out = NextTraceparent(in, &trace);
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_EQ(out.size(), 55u);
  EXPECT_EQ(out.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  EXPECT_NE(out.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_EQ(out.substr(52), "-01");
}

TEST(TraceparentTest, StartsANewTraceForMissingOrMalformedHeaders) {
  for (std::string_view bad :
       {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"}) {
    std::string trace;
    std::string out = NextTraceparent(bad, &trace);
    EXPECT_EQ(trace.size(), 32u) << bad;
    EXPECT_EQ(out.size(), 55u) << bad;
    EXPECT_EQ(out.substr(3, 32), trace) << bad;
    EXPECT_EQ(out.substr(52), "-00") << bad;
  }
}

TEST(TraceparentTest, AcceptsFutureFieldsAfterTheFlags) {
  std::string trace;
  std::string out =
      NextTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", &trace);
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
}

class PromptTokenIdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = tokenizer::Tokenizer::LoadDirectory(BRIX_TOKENIZER_TESTDATA);
    ASSERT_TRUE(loaded) << loaded.error().message;
    tok = *loaded;
  }
  std::shared_ptr<const tokenizer::Tokenizer> tok;
};

TEST_F(PromptTokenIdsTest, ChatIsTheCanonicalSerialisationSoConversationsSharePrefixes) {
  const std::string first =
      R"({"model":"m","messages":[{"role":"system","content":"You are terse."},)"
      R"({"role":"user","content":"Name a prime."}]})";
  const std::string second =
      R"({"model":"m","messages":[{"role":"system","content":"You are terse."},)"
      R"({"role":"user","content":"Name a prime."},{"role":"assistant","content":"7"},)"
      R"({"role":"user","content":"Another."}]})";
  std::vector<uint32_t> a = PromptTokenIds(*tok, RouteKind::kChat, first);
  std::vector<uint32_t> b = PromptTokenIds(*tok, RouteKind::kChat, second);
  std::vector<tokenizer::ChatMessage> messages = {{"system", "You are terse."},
                                                  {"user", "Name a prime."}};
  auto want = tokenizer::EncodeChat(*tok, messages, /*add_generation_prompt=*/true);
  ASSERT_TRUE(want);
  EXPECT_EQ(a, *want);
  // The next turn repeats the conversation: everything before the generation prompt is shared.
  auto history = tokenizer::EncodeChat(*tok, messages, /*add_generation_prompt=*/false);
  ASSERT_TRUE(history);
  ASSERT_GT(b.size(), history->size());
  EXPECT_TRUE(std::equal(history->begin(), history->end(), b.begin()));
}

TEST_F(PromptTokenIdsTest, CompletionTextOrIdsOfTheFirstPrompt) {
  auto want = tok->Encode("The capital of France is", {.add_special_tokens = true});
  ASSERT_TRUE(want);
  EXPECT_EQ(PromptTokenIds(*tok, RouteKind::kCompletion,
                           R"({"model":"m","prompt":["The capital of France is","x"]})"),
            *want);
  EXPECT_EQ(PromptTokenIds(*tok, RouteKind::kCompletion, R"({"model":"m","prompt":[5,6,7]})"),
            (std::vector<uint32_t>{5, 6, 7}));
}

TEST_F(PromptTokenIdsTest, NothingForEmbeddingsOrBodiesTheEngineWillReject) {
  EXPECT_TRUE(PromptTokenIds(*tok, RouteKind::kEmbedding, R"({"model":"m","input":"hi"})").empty());
  for (std::string_view bad :
       {"{", "[]", R"({"model":"m"})", R"({"model":"m","messages":3})",
        R"({"model":"m","prompt":[-1,2]})", R"({"model":"m","prompt":[99999999999]})"}) {
    EXPECT_TRUE(PromptTokenIds(*tok, RouteKind::kChat, bad).empty()) << bad;
    EXPECT_TRUE(PromptTokenIds(*tok, RouteKind::kCompletion, bad).empty()) << bad;
  }
}

}  // namespace
}  // namespace brix::gateway
