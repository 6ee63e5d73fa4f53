#include "tokenizer/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/internal/byte_level.h"
#include "tokenizer/internal/pre_tokenizer.h"
#include "tokenizer/internal/unicode.h"

namespace brix::tokenizer {
namespace {

namespace json = boost::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Ids of the fixture (testdata/tokenizer.json): bytes are ids 0-255 in byte order, merged tokens
// follow in merge order, added tokens start at 300.
constexpr TokenId kT = 't';
constexpr TokenId kGThe = 258;  // "Ġthe"
constexpr TokenId kThe = 261;
constexpr TokenId kEAcute = 262;  // "é"
constexpr TokenId kGG = 266;      // two spaces
constexpr TokenId kGGGG = 267;    // four spaces
constexpr TokenId kAa = 268;
constexpr TokenId kLower = 272;
constexpr TokenId kGWorld = 278;
constexpr TokenId kNi = 281;  // "你"
constexpr TokenId kXyz = 282;
constexpr TokenId kBos = 300;
constexpr TokenId kEot = 301;
constexpr TokenId kTool = 302;
constexpr TokenId kMask = 303;
constexpr TokenId kWord = 304;  // "[W]", single_word
constexpr TokenId kCafe = 305;  // "café", normalized

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(BRIX_TOKENIZER_TESTDATA) + "/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json::object FixtureJson() { return json::parse(ReadTestdata("tokenizer.json")).as_object(); }

std::shared_ptr<const Tokenizer> Load(const json::object& doc, std::string_view config = {}) {
  auto t = Tokenizer::FromJson(json::serialize(doc), config);
  EXPECT_TRUE(t) << t.error().message;
  return t ? *t : nullptr;
}

const Tokenizer& Fixture() {
  static const std::shared_ptr<const Tokenizer> t =
      *Tokenizer::FromJson(ReadTestdata("tokenizer.json"), ReadTestdata("tokenizer_config.json"));
  return *t;
}

std::vector<TokenId> Ids(const Tokenizer& t, std::string_view text, bool special = false) {
  auto ids = t.Encode(text, {.add_special_tokens = special});
  EXPECT_TRUE(ids) << ids.error().message;
  return ids ? *ids : std::vector<TokenId>{};
}

std::vector<TokenId> Bytes(std::string_view text) {
  std::vector<TokenId> ids;
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::string LoadError(const json::object& doc) {
  auto t = Tokenizer::FromJson(json::serialize(doc));
  EXPECT_FALSE(t);
  if (t) return "";
  EXPECT_EQ(t.error().code, Errc::kInvalidArgument);
  return t.error().message;
}

// ---- BPE --------------------------------------------------------------------------------------

TEST(BpeTest, AppliesMergesInRankOrder) {
  EXPECT_THAT(Ids(Fixture(), "the"), ElementsAre(kThe));
  // Ġ t h e: "Ġ t" (rank 0) first, then "h e" (1), then "Ġt he" (2).
  EXPECT_THAT(Ids(Fixture(), " the"), ElementsAre(kGThe));
  EXPECT_THAT(Ids(Fixture(), "lower world"), ElementsAre(kLower, kGWorld));
}

TEST(BpeTest, BreaksTiesLeftmostFirst) {
  EXPECT_THAT(Ids(Fixture(), "aaa"), ElementsAre(kAa, 'a'));
  EXPECT_THAT(Ids(Fixture(), "aaaaa"), ElementsAre(kAa, kAa, 'a'));
}

TEST(BpeTest, LongWordsMergeLikeShortOnes) {
  // 62 spaces take the array path, 130 the heap path; both pair up left to right twice.
  std::vector<TokenId> short_expected(15, kGGGG);
  short_expected.push_back(kGG);
  EXPECT_EQ(Ids(Fixture(), std::string(62, ' ')), short_expected);
  std::vector<TokenId> long_expected(32, kGGGG);
  long_expected.push_back(kGG);
  EXPECT_EQ(Ids(Fixture(), std::string(130, ' ')), long_expected);
  std::vector<TokenId> a_expected(500, kAa);
  a_expected.push_back('a');
  EXPECT_EQ(Ids(Fixture(), std::string(1001, 'a')), a_expected);
}

TEST(BpeTest, QuarterMegabyteWordsEncode) {
  // One regex piece each: the heap path and PCRE2's JIT stack at scale.
  EXPECT_EQ(Ids(Fixture(), std::string(1 << 18, ' ')), std::vector<TokenId>(1 << 16, kGGGG));
  EXPECT_EQ(Ids(Fixture(), std::string(1 << 18, 'a')), std::vector<TokenId>(1 << 17, kAa));
  EXPECT_EQ(Ids(Fixture(), std::string(1 << 18, '!')), std::vector<TokenId>(1 << 18, '!'));
}

TEST(BpeTest, MergesGivenAsPairsEncodeLikeMergesGivenAsStrings) {
  json::object doc = FixtureJson();
  json::array pairs;
  for (const json::value& m : doc["model"].as_object()["merges"].as_array()) {
    std::string_view line = m.as_string();
    const size_t space = line.find(' ');
    pairs.push_back(
        json::array{json::string(line.substr(0, space)), json::string(line.substr(space + 1))});
  }
  doc["model"].as_object()["merges"] = std::move(pairs);
  auto paired = Load(doc);
  ASSERT_TRUE(paired);
  for (std::string_view text : {"the lower world", "café 你你", "aaaa   \n\nxyz"}) {
    EXPECT_EQ(Ids(*paired, text), Ids(Fixture(), text)) << text;
  }
}

TEST(BpeTest, IgnoreMergesLooksUpWholeWordsFirst) {
  EXPECT_THAT(Ids(Fixture(), "xyz"), ElementsAre('x', 'y', 'z'));
  json::object doc = FixtureJson();
  doc["model"].as_object()["ignore_merges"] = true;
  auto t = Load(doc);
  ASSERT_TRUE(t);
  EXPECT_THAT(Ids(*t, "xyz"), ElementsAre(kXyz));
  EXPECT_THAT(Ids(*t, "the"), ElementsAre(kThe));
}

TEST(BpeTest, RepeatedMergeKeepsItsLastRank) {
  json::object doc = FixtureJson();
  json::object& model = doc["model"].as_object();
  model["vocab"].as_object()["ab"] = 410;
  model["vocab"].as_object()["bc"] = 411;
  json::array& merges = model["merges"].as_array();
  merges.push_back("a b");
  merges.push_back("b c");
  auto first = Load(doc);
  ASSERT_TRUE(first);
  EXPECT_THAT(Ids(*first, "abc"), ElementsAre(410, 'c'));
  // Listed again after "b c", "a b" now ranks below it (tokenizers builds a map in order).
  merges.push_back("a b");
  auto repeated = Load(doc);
  ASSERT_TRUE(repeated);
  EXPECT_THAT(Ids(*repeated, "abc"), ElementsAre('a', 411));
}

TEST(BpeTest, TokenizersOnOneThreadDoNotShareCachedWords) {
  // Both encode "abc" on this thread; the per-thread word cache must keep them apart.
  json::object doc = FixtureJson();
  json::object& model = doc["model"].as_object();
  model["vocab"].as_object()["ab"] = 410;
  model["vocab"].as_object()["bc"] = 411;
  model["merges"].as_array().push_back("a b");
  auto left = Load(doc);
  model["merges"].as_array().back() = "b c";
  auto right = Load(doc);
  ASSERT_TRUE(left && right);
  for (int round = 0; round < 3; ++round) {
    EXPECT_THAT(Ids(*left, "abc"), ElementsAre(410, 'c'));
    EXPECT_THAT(Ids(*right, "abc"), ElementsAre('a', 411));
  }
}

TEST(BpeTest, MissingByteTokensUseByteFallbackOrUnknown) {
  json::object doc = FixtureJson();
  json::object& model = doc["model"].as_object();
  json::object& vocab = model["vocab"].as_object();
  vocab.erase(internal::BytesToChars("\x01"));
  vocab.erase(internal::BytesToChars("\x02"));
  vocab["<unk>"] = 400;
  // U+0101 is how the alphabet writes byte 0x01; its UTF-8 is C4 81.
  vocab["<0xC4>"] = 401;
  vocab["<0x81>"] = 402;
  model["unk_token"] = "<unk>";

  auto unk = Load(doc);
  ASSERT_TRUE(unk);
  EXPECT_THAT(Ids(*unk, "\x01\x02"), ElementsAre(400, 400));
  model["fuse_unk"] = true;
  auto fused = Load(doc);
  ASSERT_TRUE(fused);
  EXPECT_THAT(Ids(*fused, "\x01\x02"), ElementsAre(400));
  model["byte_fallback"] = true;
  auto fallback = Load(doc);
  ASSERT_TRUE(fallback);
  // 0x01 falls back to <0xC4><0x81>; 0x02 (U+0102, C4 82) lacks <0x82> and is unknown.
  EXPECT_THAT(Ids(*fallback, "\x01\x02"), ElementsAre(401, 402, 400));
}

// ---- normalization and added tokens -----------------------------------------------------------

TEST(NormalizerTest, ComposesToNfcBeforeSplitting) {
  EXPECT_THAT(Ids(Fixture(), "e\xCC\x81"), ElementsAre(kEAcute));
  EXPECT_THAT(Ids(Fixture(), "\xC3\xA9"), ElementsAre(kEAcute));
  json::object doc = FixtureJson();
  doc["normalizer"] = nullptr;
  auto raw = Load(doc);
  ASSERT_TRUE(raw);
  EXPECT_EQ(Ids(*raw, "e\xCC\x81"), Bytes("e\xCC\x81"));
}

TEST(NormalizerTest, NfdDecomposes) {
  json::object doc = FixtureJson();
  doc["normalizer"] = json::object{{"type", "NFD"}};
  auto t = Load(doc);
  ASSERT_TRUE(t);
  EXPECT_EQ(Ids(*t, "\xC3\xA9"), Bytes("e\xCC\x81"));
}

TEST(AddedTokensTest, MatchInRawTextBeforePreTokenization) {
  EXPECT_THAT(Ids(Fixture(), "a<|eot|>b"), ElementsAre('a', kEot, 'b'));
  EXPECT_THAT(Ids(Fixture(), "<tool>the"), ElementsAre(kTool, kThe));
  EXPECT_THAT(Ids(Fixture(), "<|eot|><|eot|>"), ElementsAre(kEot, kEot));
  // Not a token: pre-tokenized and merged like any text.
  EXPECT_THAT(Ids(Fixture(), "<|eot|"), Not(Contains(kEot)));
}

TEST(AddedTokensTest, PreferTheLongestMatchAtTheLeftmostPosition) {
  json::object doc = FixtureJson();
  doc["added_tokens"].as_array().push_back(
      json::object{{"id", 310}, {"content", "<|eo"}, {"special", true}, {"normalized", false}});
  auto t = Load(doc);
  ASSERT_TRUE(t);
  EXPECT_THAT(Ids(*t, "<|eot|>"), ElementsAre(kEot));
  EXPECT_THAT(Ids(*t, "<|eox"), ElementsAre(310, 'x'));
}

TEST(AddedTokensTest, LstripAndRstripSwallowSurroundingWhiteSpace) {
  EXPECT_THAT(Ids(Fixture(), "a \t<mask>\u3000 b"), ElementsAre('a', kMask, 'b'));
  EXPECT_THAT(Ids(Fixture(), "<mask>  "), ElementsAre(kMask));
}

TEST(AddedTokensTest, SingleWordTokensNeedNonWordNeighbours) {
  EXPECT_THAT(Ids(Fixture(), "[W]"), ElementsAre(kWord));
  EXPECT_THAT(Ids(Fixture(), "a [W]."), Contains(kWord));
  EXPECT_THAT(Ids(Fixture(), "x[W]"), Not(Contains(kWord)));
  EXPECT_THAT(Ids(Fixture(), "[W]\xC3\xA9"), Not(Contains(kWord)));  // é is a word character
}

TEST(AddedTokensTest, NormalizedTokensMatchTheNormalizedText) {
  EXPECT_THAT(Ids(Fixture(), "caf\xC3\xA9"), ElementsAre(kCafe));
  EXPECT_THAT(Ids(Fixture(), "cafe\xCC\x81"), ElementsAre(kCafe));
}

TEST(PostProcessorTest, TemplateAddsBosOnlyWithSpecialTokens) {
  EXPECT_THAT(Ids(Fixture(), "the", /*special=*/true), ElementsAre(kBos, kThe));
  EXPECT_THAT(Ids(Fixture(), "the", /*special=*/false), ElementsAre(kThe));
  EXPECT_THAT(Ids(Fixture(), "", /*special=*/true), ElementsAre(kBos));
  EXPECT_THAT(Ids(Fixture(), "", /*special=*/false), ElementsAre());
}

TEST(EncodeTest, ReplacesInvalidUtf8WithReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(Ids(Fixture(), "\xFF"), Ids(Fixture(), fffd));
  // A truncated sequence is one maximal subpart; a bad continuation is reprocessed.
  EXPECT_EQ(Ids(Fixture(), "a\xE4\xB8"), Ids(Fixture(), "a" + fffd));
  EXPECT_EQ(Ids(Fixture(), "\xE0\x80the"), Ids(Fixture(), fffd + fffd + "the"));
  EXPECT_EQ(Ids(Fixture(), "\xED\xA0\x80"), Ids(Fixture(), fffd + fffd + fffd));  // a surrogate
}

TEST(EncodeTest, CountTokensMatchesEncode) {
  for (std::string_view text : {"", "the lower world", "<|eot|> \xFF caf\xC3\xA9"}) {
    for (bool special : {false, true}) {
      auto count = Fixture().CountTokens(text, {.add_special_tokens = special});
      ASSERT_TRUE(count);
      EXPECT_EQ(*count, Ids(Fixture(), text, special).size());
    }
  }
}

TEST(EncodeTest, IsSafeFromManyThreads) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) {
    texts.push_back("the lower world " + std::to_string(i) + std::string(i * 3, ' ') + "你 é");
  }
  std::vector<std::vector<TokenId>> expected;
  for (const auto& t : texts) expected.push_back(Ids(Fixture(), t));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          auto ids = Fixture().Encode(texts[i], {.add_special_tokens = false});
          if (!ids || *ids != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(EncodeTest, CatastrophicBacktrackingIsAnErrorNotAHang) {
  json::object doc = FixtureJson();
  doc["pre_tokenizer"].as_object()["pretokenizers"].as_array()[0].as_object()["pattern"] =
      json::object{{"Regex", "(a+)+b"}};
  auto t = Load(doc);
  ASSERT_TRUE(t);
  // 'b' occurs, so PCRE2 cannot rule the match out before backtracking over the a's.
  auto ids = t->Encode(std::string(64, 'a') + "cb");
  ASSERT_FALSE(ids);
  EXPECT_EQ(ids.error().code, Errc::kResourceExhausted);
}

// ---- decoding ---------------------------------------------------------------------------------

TEST(DecodeTest, RoundTripsValidText) {
  for (std::string_view text :
       {"the lower world", "  leading and trailing  ", "caf\xC3\xA9 \xE4\xBD\xA0\n\n\tend",
        "emoji \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD <tool> x"}) {
    auto decoded = Fixture().Decode(Ids(Fixture(), text));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, text);
  }
}

TEST(DecodeTest, JoinsBytesAcrossTokensAndReplacesBrokenSequences) {
  EXPECT_EQ(*Fixture().Decode(std::vector<TokenId>{0xE4, 0xBD, 0xA0}), "\xE4\xBD\xA0");
  EXPECT_EQ(*Fixture().Decode(std::vector<TokenId>{kNi}), "\xE4\xBD\xA0");
  EXPECT_EQ(*Fixture().Decode(std::vector<TokenId>{0xE4, 0xBD}), "\xEF\xBF\xBD");
  EXPECT_EQ(*Fixture().Decode(std::vector<TokenId>{0xE4, kEot, 0xBD}),
            "\xEF\xBF\xBD<|eot|>\xEF\xBF\xBD");
}

TEST(DecodeTest, KeepsAddedTokensVerbatimAndCanSkipSpecialOnes) {
  const std::vector<TokenId> ids = {kBos, kThe, kTool, kEot};
  EXPECT_EQ(*Fixture().Decode(ids), "<|bos|>the<tool><|eot|>");
  EXPECT_EQ(*Fixture().Decode(ids, {.skip_special_tokens = true}), "the<tool>");
}

TEST(DecodeTest, RejectsIdsOutsideTheVocabulary) {
  auto r = Fixture().Decode(std::vector<TokenId>{kThe, 299});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("299"));
  EXPECT_FALSE(Fixture().Decode(std::vector<TokenId>{1u << 30}));
}

TEST(DecodeTest, CleansUpTokenizationSpacesOnlyWhenAsked) {
  const std::vector<TokenId> ids = Ids(Fixture(), "Hello , world . It 's");
  EXPECT_EQ(*Fixture().Decode(ids), "Hello , world . It 's");
  EXPECT_EQ(*Fixture().Decode(ids, {.clean_up_tokenization_spaces = true}), "Hello, world. It's");
}

// ---- vocabulary and metadata ------------------------------------------------------------------

TEST(VocabularyTest, MapsSpellingsAndIds) {
  EXPECT_EQ(Fixture().TokenToId("\xC4\xA0the"), kGThe);  // "Ġthe"
  EXPECT_EQ(Fixture().IdToToken(kGThe), "\xC4\xA0the");
  EXPECT_EQ(Fixture().TokenToId("<|eot|>"), kEot);
  EXPECT_EQ(Fixture().TokenToId("nope"), std::nullopt);
  EXPECT_EQ(Fixture().IdToToken(299), std::nullopt);
  EXPECT_TRUE(Fixture().IsSpecial(kEot));
  EXPECT_FALSE(Fixture().IsSpecial(kTool));
  EXPECT_FALSE(Fixture().IsSpecial(kThe));
  EXPECT_EQ(Fixture().vocab_size(), 306u);
}

TEST(MetadataTest, ReadsTokenizerConfig) {
  const TokenizerMetadata& m = Fixture().metadata();
  EXPECT_EQ(m.bos_token, "<|bos|>");
  EXPECT_EQ(m.bos_token_id, kBos);
  EXPECT_EQ(m.eos_token, "<|eot|>");  // given as an AddedToken object
  EXPECT_EQ(m.eos_token_id, kEot);
  EXPECT_EQ(m.pad_token, std::nullopt);
  EXPECT_EQ(m.model_max_length, std::nullopt);  // 1e30 means unbounded
  EXPECT_TRUE(m.clean_up_tokenization_spaces);
  ASSERT_TRUE(m.chat_template);
  EXPECT_THAT(*m.chat_template, HasSubstr("messages"));
}

TEST(MetadataTest, ReportsBadConfigFields) {
  auto t = Tokenizer::FromJson(ReadTestdata("tokenizer.json"),
                               R"({"bos_token": 5, "model_max_length": "x"})");
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error().message, HasSubstr("tokenizer_config.json: bos_token: expected"));
  EXPECT_THAT(t.error().message, HasSubstr("tokenizer_config.json: model_max_length: expected"));
}

TEST(LoadTest, LoadsADirectory) {
  auto t = Tokenizer::LoadDirectory(BRIX_TOKENIZER_TESTDATA);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ((*t)->metadata().bos_token_id, kBos);
  auto missing = Tokenizer::LoadDirectory("/nonexistent/dir");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

// ---- load errors ------------------------------------------------------------------------------

TEST(LoadErrorTest, UnsupportedPreTokenizerNamesItsJsonPath) {
  json::object doc = FixtureJson();
  doc["pre_tokenizer"].as_object()["pretokenizers"].as_array()[1] =
      json::object{{"type", "Metaspace"}, {"replacement", "_"}};
  EXPECT_THAT(LoadError(doc),
              HasSubstr("tokenizer.json: pre_tokenizer.pretokenizers[1].type: unsupported "
                        "'Metaspace'"));
}

TEST(LoadErrorTest, UnsupportedModelNormalizerDecoderAndPostProcessor) {
  json::object doc = FixtureJson();
  doc["model"].as_object()["type"] = "WordPiece";
  doc["normalizer"].as_object()["normalizers"].as_array().push_back(
      json::object{{"type", "Lowercase"}});
  doc["decoder"] = json::object{{"type", "Metaspace"}};
  doc["post_processor"] = json::object{{"type", "BertProcessing"}};
  const std::string error = LoadError(doc);
  EXPECT_THAT(error, HasSubstr("model.type: unsupported 'WordPiece'"));
  EXPECT_THAT(error, HasSubstr("normalizer.normalizers[1].type: unsupported 'Lowercase'"));
  EXPECT_THAT(error, HasSubstr("decoder.type: unsupported 'Metaspace'"));
  EXPECT_THAT(error, HasSubstr("post_processor.type: unsupported 'BertProcessing'"));
}

TEST(LoadErrorTest, BadRegexAndBadBehaviour) {
  json::object doc = FixtureJson();
  json::object& split = doc["pre_tokenizer"].as_object()["pretokenizers"].as_array()[0].as_object();
  split["pattern"] = json::object{{"Regex", "(unclosed"}};
  split["behavior"] = "Sideways";
  const std::string error = LoadError(doc);
  EXPECT_THAT(error, HasSubstr("pre_tokenizer.pretokenizers[0].pattern.Regex: invalid regex"));
  EXPECT_THAT(error, HasSubstr("pre_tokenizer.pretokenizers[0].behavior: unsupported 'Sideways'"));
}

TEST(LoadErrorTest, ByteLevelMustBeTheLastPreTokenizer) {
  json::object doc = FixtureJson();
  json::array& steps = doc["pre_tokenizer"].as_object()["pretokenizers"].as_array();
  std::swap(steps[0], steps[1]);
  EXPECT_THAT(LoadError(doc), HasSubstr("pre_tokenizer.pretokenizers[1]: a Split after the "
                                        "ByteLevel step"));
  doc["pre_tokenizer"] = json::object{
      {"type", "Split"}, {"pattern", json::object{{"String", " "}}}, {"behavior", "Isolated"}};
  EXPECT_THAT(LoadError(doc), HasSubstr("pre_tokenizer: no ByteLevel step"));
}

TEST(LoadErrorTest, MergesMustReferToTheVocabulary) {
  json::object doc = FixtureJson();
  json::array& merges = doc["model"].as_object()["merges"].as_array();
  merges[3] = "i nope";
  merges[4] = "no-space";
  const std::string error = LoadError(doc);
  EXPECT_THAT(error, HasSubstr("model.merges[3]: 'nope' is not in the vocabulary"));
  EXPECT_THAT(error, HasSubstr("model.merges[4]: expected \"left right\""));
}

TEST(LoadErrorTest, RejectsDropoutAndSubwordAffixes) {
  json::object doc = FixtureJson();
  doc["model"].as_object()["dropout"] = 0.1;
  doc["model"].as_object()["continuing_subword_prefix"] = "##";
  const std::string error = LoadError(doc);
  EXPECT_THAT(error, HasSubstr("model.dropout: unsupported"));
  EXPECT_THAT(error, HasSubstr("model.continuing_subword_prefix: unsupported"));
}

TEST(LoadErrorTest, RejectsIdsFarBeyondTheVocabularySize) {
  json::object doc = FixtureJson();
  doc["model"].as_object()["vocab"].as_object()["huge"] = 1 << 30;
  doc["added_tokens"].as_array().push_back(
      json::object{{"id", 2000000000}, {"content", "<big>"}, {"special", true}});
  const std::string error = LoadError(doc);
  EXPECT_THAT(error, HasSubstr("model.vocab.huge: id 1073741824 is far beyond"));
  EXPECT_THAT(error, HasSubstr("added_tokens: id 2000000000 of '<big>' is far beyond"));
}

TEST(LoadErrorTest, InvalidJsonReportsLineAndColumn) {
  auto t = Tokenizer::FromJson("{\n  \"model\": [1,\n}");
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error().message, HasSubstr("tokenizer.json: not valid JSON at line 3"));
  EXPECT_FALSE(Tokenizer::FromJson("[]"));
}

// ---- pre-tokenizer ----------------------------------------------------------------------------

TEST(WhiteSpaceTest, FollowsEcmaScriptInRegexesAndStripping) {
  // U+FEFF (BOM) is white space, U+0085 (NEL) and U+180E are not, as in JavaScript.
  auto ws = internal::Regex::Compile(R"(^\s+$)");
  ASSERT_TRUE(ws);
  size_t start;
  size_t end;
  for (std::string_view space : {" ", "\t", "\u00a0", "\u2028", "\u3000", "\ufeff"}) {
    EXPECT_TRUE(*ws->Search(space, 0, &start, &end)) << space;
  }
  for (std::string_view other : {"\u0085", "\u180e", "\u200b", "x"}) {
    EXPECT_FALSE(*ws->Search(other, 0, &start, &end)) << other;
  }
  auto not_ws = internal::Regex::Compile(R"(^\S$)");
  ASSERT_TRUE(not_ws);
  EXPECT_TRUE(*not_ws->Search("\u0085", 0, &start, &end));
  EXPECT_FALSE(*not_ws->Search("\ufeff", 0, &start, &end));
  // rstrip swallows the BOM but not NEL.
  EXPECT_THAT(Ids(Fixture(), "<mask>\ufeffb"), ElementsAre(kMask, 'b'));
  EXPECT_THAT(Ids(Fixture(), "<mask>\u0085"), ElementsAre(kMask, 0xC2, 0x85));
}

TEST(WhiteSpaceTest, TranslationOnlyTouchesWhiteSpaceEscapes) {
  EXPECT_EQ(*internal::TranslatePattern(R"(a\d\\s[\]x]\Q\s\E)"), R"(a\d\\s[\]x]\Q\s\E)");
  const std::string in_class = *internal::TranslatePattern(R"([^\s\p{L}])");
  EXPECT_EQ(in_class.find("\\s"), std::string::npos);
  EXPECT_TRUE(in_class.starts_with("[^\\t-\\r")) << in_class;
  auto rejected = internal::TranslatePattern(R"([\S])");
  ASSERT_FALSE(rejected);
  EXPECT_THAT(rejected.error().message, HasSubstr("\\S inside a character class"));
}

std::vector<std::string> Pieces(const internal::PreTokenizer& p, std::string_view text) {
  std::vector<std::string> out;
  auto r = p.Run(text, [&](std::string_view word) -> Result<void> {
    out.emplace_back(word);
    return {};
  });
  EXPECT_TRUE(r);
  return out;
}

internal::Regex MustCompile(std::string_view pattern, bool literal = false) {
  auto r = internal::Regex::Compile(pattern, literal);
  EXPECT_TRUE(r) << r.error().message;
  return std::move(*r);
}

internal::PreTokenizer SplitOn(std::string_view pattern, internal::SplitBehavior behavior,
                               bool invert = false) {
  std::vector<internal::PreTokenizer::SplitStep> steps;
  steps.push_back({MustCompile(pattern), behavior, invert});
  return internal::PreTokenizer(std::move(steps), {});
}

TEST(SplitTest, AppliesEachDelimiterBehaviour) {
  using B = internal::SplitBehavior;
  const std::string text = "a-b--c-";
  EXPECT_THAT(Pieces(SplitOn("-", B::kRemoved), text), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Pieces(SplitOn("-", B::kIsolated), text),
              ElementsAre("a", "-", "b", "-", "-", "c", "-"));
  EXPECT_THAT(Pieces(SplitOn("-", B::kMergedWithPrevious), text),
              ElementsAre("a-", "b-", "-", "c-"));
  EXPECT_THAT(Pieces(SplitOn("-", B::kMergedWithNext), text),
              ElementsAre("a", "-b", "-", "-c", "-"));
  EXPECT_THAT(Pieces(SplitOn("-", B::kContiguous), text),
              ElementsAre("a", "-", "b", "--", "c", "-"));
}

TEST(SplitTest, InvertSwapsMatchesAndGaps) {
  using B = internal::SplitBehavior;
  EXPECT_THAT(Pieces(SplitOn("-", B::kRemoved, /*invert=*/true), "a-b--c-"),
              ElementsAre("-", "-", "-", "-"));
  EXPECT_THAT(Pieces(SplitOn("-", B::kIsolated, /*invert=*/true), "a-b"),
              ElementsAre("a", "-", "b"));
}

TEST(SplitTest, EmptyMatchesSplitWithoutProducingEmptyPieces) {
  using B = internal::SplitBehavior;
  EXPECT_THAT(Pieces(SplitOn("x*", B::kIsolated), "abxxc"), ElementsAre("a", "b", "xx", "c"));
  EXPECT_THAT(Pieces(SplitOn("", B::kIsolated), "h\xC3\xA9"), ElementsAre("h", "\xC3\xA9"));
}

TEST(SplitTest, LiteralPatternsAreNotRegexes) {
  std::vector<internal::PreTokenizer::SplitStep> steps;
  steps.push_back({MustCompile(".*", /*literal=*/true), internal::SplitBehavior::kRemoved, false});
  internal::PreTokenizer p(std::move(steps), {});
  EXPECT_THAT(Pieces(p, "a.*b.c"), ElementsAre("a", "b.c"));
}

TEST(ByteLevelTest, Gpt2StyleTokenizerSplitsWithTheBuiltInRegex) {
  // GPT-2's tokenizer.json: a lone ByteLevel pre-tokenizer (use_regex defaults to true).
  json::object doc = FixtureJson();
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] =
      json::object{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}};
  auto gpt2 = Load(doc);
  ASSERT_TRUE(gpt2);
  // " lower": "low er" (rank 16) wins over "Ġ low" (rank 17), leaving the space alone.
  EXPECT_THAT(Ids(*gpt2, "the lower"), ElementsAre(kThe, ' ', kLower));
  doc["pre_tokenizer"].as_object()["add_prefix_space"] = true;
  auto prefixed = Load(doc);
  ASSERT_TRUE(prefixed);
  EXPECT_THAT(Ids(*prefixed, "the"), ElementsAre(kGThe));
}

TEST(ByteLevelTest, Gpt2RegexAndPrefixSpace) {
  internal::PreTokenizer::ByteLevelStep step;
  step.gpt2.emplace(MustCompile(internal::PreTokenizer::kGpt2Pattern));
  internal::PreTokenizer plain({}, std::move(step));
  EXPECT_THAT(Pieces(plain, "Hello world's  end 42!!"),
              ElementsAre("Hello", " world", "'s", " ", " end", " 42", "!!"));
  internal::PreTokenizer::ByteLevelStep prefixed_step;
  prefixed_step.add_prefix_space = true;
  internal::PreTokenizer prefixed({}, std::move(prefixed_step));
  EXPECT_THAT(Pieces(prefixed, "Hi"), ElementsAre(" Hi"));
  EXPECT_THAT(Pieces(prefixed, " Hi"), ElementsAre(" Hi"));
}

// ---- helpers ----------------------------------------------------------------------------------

TEST(Utf8Test, LossyDecodingFollowsTheWhatwgDecoder) {
  const auto lossy = [](std::string_view s) {
    std::string out;
    internal::AppendUtf8Lossy(s, &out);
    return out;
  };
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(lossy("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(lossy("\xC0\xAF"), r + r);  // overlong lead bytes are never valid
  EXPECT_EQ(lossy("\xF0\x9F\x91"), r);  // truncated at the end: one subpart
  EXPECT_EQ(lossy("\xF0\x9F\x91x"), r + "x");
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(lossy("\x80\xBF"), r + r);
  EXPECT_TRUE(internal::IsValidUtf8("plain ascii text that is long enough for words"));
  EXPECT_FALSE(internal::IsValidUtf8("plain ascii text that is long enough \xFF for words"));
}

TEST(ByteLevelTest, AlphabetRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string chars = internal::BytesToChars(all);
  EXPECT_EQ(internal::CharsToBytes(chars), all);
  EXPECT_EQ(internal::BytesToChars(" \n"), "\xC4\xA0\xC4\x8A");  // "ĠĊ"
  EXPECT_EQ(internal::CharsToBytes("a b"), std::nullopt);        // ' ' is not in the alphabet
}

}  // namespace
}  // namespace brix::tokenizer
