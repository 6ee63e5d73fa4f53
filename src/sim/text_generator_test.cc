#include "sim/text_generator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace brix::sim {
namespace {

// The real tokenizers come from npm into .cache/tokenizers; ctest runs scripts/fetch-tokenizers
// first (the `tokenizers` fixture).
std::filesystem::path TokenizerDir(const char* name) {
  return std::filesystem::path(BRIX_SOURCE_DIR) / ".cache" / "tokenizers" / name;
}

class TextGeneratorTest : public testing::TestWithParam<const char*> {};

TEST_P(TextGeneratorTest, TextTokenisesBackToTheCountedTokens) {
  auto dir = TokenizerDir(GetParam());
  ASSERT_TRUE(std::filesystem::exists(dir / "tokenizer.json"))
      << "no " << dir << "; run scripts/fetch-tokenizers";
  auto tok = tokenizer::Tokenizer::LoadDirectory(dir);
  ASSERT_TRUE(tok) << tok.error().message;
  auto gen = TextGenerator::Create(**tok);
  ASSERT_TRUE(gen) << gen.error().message;
  EXPECT_GT((*gen)->size(), 1000u);
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xffffffffffffffffull}) {
    for (size_t n : {1u, 2u, 17u, 500u}) {
      std::string text;
      std::vector<tokenizer::TokenId> ids;
      for (size_t i = 0; i < n; ++i) {
        ids.push_back((*gen)->TokenAt(seed, i));
        text += (*gen)->Text(ids.back());
      }
      auto back = (*tok)->Encode(text, {.add_special_tokens = false});
      ASSERT_TRUE(back);
      EXPECT_EQ(*back, ids) << "seed " << seed << " n " << n << ": " << text;
    }
  }
}

TEST_P(TextGeneratorTest, SameSeedSameTextOtherSeedOtherText) {
  auto dir = TokenizerDir(GetParam());
  auto tok = tokenizer::Tokenizer::LoadDirectory(dir);
  ASSERT_TRUE(tok);
  auto gen = TextGenerator::Create(**tok);
  ASSERT_TRUE(gen);
  int same = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    EXPECT_EQ((*gen)->TokenAt(7, i), (*gen)->TokenAt(7, i));
    same += (*gen)->TokenAt(7, i) == (*gen)->TokenAt(8, i);
  }
  EXPECT_LT(same, 10);
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, TextGeneratorTest, testing::Values("llama3", "qwen3"));

TEST(TextGeneratorFixtureTest, TooSmallVocabularyIsAnError) {
  auto tok = tokenizer::Tokenizer::LoadDirectory(BRIX_TOKENIZER_TESTDATA);
  ASSERT_TRUE(tok) << tok.error().message;
  auto gen = TextGenerator::Create(**tok);
  ASSERT_FALSE(gen);
  EXPECT_EQ(gen.error().code, Errc::kFailedPrecondition);
}

}  // namespace
}  // namespace brix::sim
