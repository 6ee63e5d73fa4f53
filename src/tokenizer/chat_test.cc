#include "tokenizer/chat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>

namespace brix::tokenizer {
namespace {

namespace json = boost::json;

// The fixture tokenizer plus `markers` as special added tokens (ids from 500).
std::shared_ptr<const Tokenizer> FixtureWith(std::initializer_list<std::string_view> markers,
                                             bool special = true) {
  std::ifstream in(std::string(BRIX_TOKENIZER_TESTDATA) + "/tokenizer.json", std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  json::object doc = json::parse(s.str()).as_object();
  int id = 500;
  for (std::string_view m : markers) {
    doc["added_tokens"].as_array().push_back(
        json::object{{"id", id++}, {"content", m}, {"special", special}, {"normalized", false}});
  }
  auto t = Tokenizer::FromJson(json::serialize(doc));
  EXPECT_TRUE(t) << t.error().message;
  return *t;
}

std::shared_ptr<const Tokenizer> Llama3Like() {
  return FixtureWith(
      {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"});
}

std::shared_ptr<const Tokenizer> ChatMlLike() {
  return FixtureWith({"<|im_start|>", "<|im_end|>"});
}

std::shared_ptr<const Tokenizer> Plain() { return FixtureWith({}); }

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}};

TEST(ChatFormatTest, DetectedFromSpecialTokens) {
  EXPECT_EQ(DetectChatFormat(*Llama3Like()), ChatFormat::kLlama3);
  EXPECT_EQ(DetectChatFormat(*ChatMlLike()), ChatFormat::kChatMl);
  EXPECT_EQ(DetectChatFormat(*Plain()), ChatFormat::kPlain);
  // Markers that are not special tokens would not survive pre-tokenization as markers.
  EXPECT_EQ(DetectChatFormat(*FixtureWith({"<|im_start|>", "<|im_end|>"}, /*special=*/false)),
            ChatFormat::kPlain);
  EXPECT_EQ(ChatFormatName(ChatFormat::kChatMl), "chatml");
}

TEST(ChatFormatTest, SerializesEachFormat) {
  EXPECT_EQ(SerializeChat(*Llama3Like(), kConversation, /*add_generation_prompt=*/false),
            "<|begin_of_text|>"
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>");
  EXPECT_EQ(SerializeChat(*ChatMlLike(), std::span(kConversation).first(2), true),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(SerializeChat(*Plain(), kConversation, true),
            "system: Be brief.\nuser: Hi\nassistant: Hello!\nassistant:");
}

TEST(ChatFormatTest, EncodesMarkersAsSpecialTokensWithoutTheTemplate) {
  auto ids = EncodeChat(*ChatMlLike(), std::span(kConversation).first(1), false);
  ASSERT_TRUE(ids);
  ASSERT_FALSE(ids->empty());
  EXPECT_EQ(ids->front(), 500u);  // <|im_start|>, and no <|bos|> from the fixture's template
  EXPECT_THAT(*ids, ::testing::Contains(501u));
}

// Random conversations with contents that stress boundaries: white space at either end,
// newlines, marker text inside contents, non-ASCII.
std::vector<ChatMessage> RandomConversation(std::mt19937& rng) {
  static const std::vector<std::string> kRoles = {"system", "user", "assistant", "tool"};
  static const std::vector<std::string> kParts = {
      "hello",      " world",     "\n", "\n\n", "  ", "the lower", "caf\xC3\xA9", "\xE4\xBD\xA0",
      "<|eot_id|>", "<|im_end|>", "42", "!",    "\t", "user:",     "assistant"};
  std::vector<ChatMessage> messages(std::uniform_int_distribution<int>(1, 6)(rng));
  for (ChatMessage& m : messages) {
    m.role = kRoles[rng() % kRoles.size()];
    const int parts = std::uniform_int_distribution<int>(0, 5)(rng);
    for (int i = 0; i < parts; ++i) m.content += kParts[rng() % kParts.size()];
  }
  return messages;
}

bool IsPrefix(std::string_view prefix, std::string_view full) { return full.starts_with(prefix); }

bool IsPrefix(const std::vector<TokenId>& prefix, const std::vector<TokenId>& full) {
  return prefix.size() <= full.size() && std::equal(prefix.begin(), prefix.end(), full.begin());
}

TEST(ChatPrefixTest, EarlierTurnsSerializeToABytePrefix) {
  std::mt19937 rng(20240601);
  for (const auto& tokenizer : {Llama3Like(), ChatMlLike(), Plain()}) {
    for (int round = 0; round < 200; ++round) {
      const std::vector<ChatMessage> messages = RandomConversation(rng);
      const std::string full = SerializeChat(*tokenizer, messages, false);
      for (size_t k = 0; k < messages.size(); ++k) {
        const auto head = std::span(messages).first(k);
        EXPECT_TRUE(IsPrefix(SerializeChat(*tokenizer, head, false), full));
        // A generation prompt opens the assistant turn that the reply then fills in.
        std::vector<ChatMessage> replied(head.begin(), head.end());
        replied.push_back({"assistant", messages[k].content});
        EXPECT_TRUE(IsPrefix(SerializeChat(*tokenizer, head, true),
                             SerializeChat(*tokenizer, replied, false)));
      }
    }
  }
}

TEST(ChatPrefixTest, EarlierTurnsEncodeToATokenPrefixWhenTurnsEndInMarkers) {
  std::mt19937 rng(7);
  for (const auto& tokenizer : {Llama3Like(), ChatMlLike()}) {
    for (int round = 0; round < 200; ++round) {
      const std::vector<ChatMessage> messages = RandomConversation(rng);
      auto full = EncodeChat(*tokenizer, messages, false);
      ASSERT_TRUE(full);
      for (size_t k = 0; k < messages.size(); ++k) {
        auto head = EncodeChat(*tokenizer, std::span(messages).first(k), false);
        ASSERT_TRUE(head);
        EXPECT_TRUE(IsPrefix(*head, *full))
            << ChatFormatName(DetectChatFormat(*tokenizer)) << " k=" << k;
      }
    }
  }
}

TEST(ChatPrefixTest, GenerationPromptIsATokenPrefixOfTheReply) {
  const std::vector<ChatMessage> question = {{"user", "Hi"}};
  const std::vector<ChatMessage> answered = {{"user", "Hi"}, {"assistant", "Hello there"}};
  for (const auto& tokenizer : {Llama3Like(), ChatMlLike(), Plain()}) {
    auto prompt = EncodeChat(*tokenizer, question, true);
    auto reply = EncodeChat(*tokenizer, answered, false);
    ASSERT_TRUE(prompt && reply);
    EXPECT_TRUE(IsPrefix(*prompt, *reply)) << ChatFormatName(DetectChatFormat(*tokenizer));
  }
}

}  // namespace
}  // namespace brix::tokenizer
