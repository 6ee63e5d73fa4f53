#include "workload/workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"
#include "workload/prompt_text.h"
#include "workload/synthetic.h"
#include "workload/trace.h"

namespace brix::workload {
namespace {

using ::testing::HasSubstr;

Result<Workload> Mooncake(const std::string& text) {
  std::istringstream in(text);
  return ReadMooncakeTrace(in, "t.jsonl");
}

Result<Workload> Azure(const std::string& text) {
  std::istringstream in(text);
  return ReadAzureTrace(in, "t.csv");
}

TEST(MooncakeTrace, ReadsTheSliceWithBlocksAndPartialLastBlock) {
  Result<Workload> w = LoadTrace(BRIX_WORKLOAD_TESTDATA "/mooncake-slice.jsonl");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->sessions.size(), 40u);
  // Line 1: {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0..13]}
  const Turn& first = w->sessions[0].turns.at(0);
  EXPECT_EQ(first.prompt_tokens(), 6758);
  EXPECT_EQ(first.output_tokens, 500);
  ASSERT_EQ(first.prompt.size(), 14u);
  EXPECT_EQ(first.prompt[0], (Segment{MakeKey(KeySpace::kTraceBlock, 0), 512}));
  EXPECT_EQ(first.prompt[13].tokens, 6758 - 13 * 512);
  // Line 2 shares block 0 with line 1, so their prompts share the first segment.
  EXPECT_EQ(w->sessions[1].turns[0].prompt[0], first.prompt[0]);
  EXPECT_NE(w->sessions[1].turns[0].prompt[1].key, first.prompt[1].key);
  for (size_t i = 1; i < w->sessions.size(); ++i) {
    EXPECT_LE(w->sessions[i - 1].start_s, w->sessions[i].start_s);
    EXPECT_EQ(w->sessions[i].id, i);
  }
  EXPECT_THAT(w->description, HasSubstr("40 requests"));
}

TEST(MooncakeTrace, ArrivalsAreMillisecondsFromTheEarliestAndSorted) {
  Result<Workload> w =
      Mooncake(R"({"timestamp": 3000, "input_length": 10, "output_length": 2, "hash_ids": [7]})"
               "\n\n"
               R"({"timestamp": 1000, "input_length": 600, "output_length": 0, "hash_ids": [1, 2]})"
               "\n");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->sessions.size(), 2u);
  EXPECT_DOUBLE_EQ(w->sessions[0].start_s, 0);
  EXPECT_DOUBLE_EQ(w->sessions[1].start_s, 2.0);
  EXPECT_EQ(w->sessions[0].turns[0].output_tokens, 1);  // 0 is sent as 1
  EXPECT_EQ(w->sessions[0].turns[0].prompt[1].tokens, 600 - 512);
}

TEST(MooncakeTrace, LengthBeyondTheBlocksGetsUniqueText) {
  Result<Workload> w =
      Mooncake(R"({"timestamp": 0, "input_length": 700, "output_length": 5, "hash_ids": [4]})"
               "\n"
               R"({"timestamp": 0, "input_length": 100, "output_length": 5, "hash_ids": [4, 5, 6]})"
               "\n"
               R"({"timestamp": 0, "input_length": 30, "output_length": 5})");
  ASSERT_TRUE(w) << w.error().message;
  const auto& a = w->sessions[0].turns[0].prompt;
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0], (Segment{MakeKey(KeySpace::kTraceBlock, 4), 512}));
  EXPECT_EQ(a[1].tokens, 188);
  const auto& b = w->sessions[1].turns[0].prompt;
  ASSERT_EQ(b.size(), 1u);  // only the blocks that fit
  EXPECT_EQ(b[0], (Segment{MakeKey(KeySpace::kTraceBlock, 4), 100}));
  EXPECT_EQ(w->sessions[2].turns[0].prompt_tokens(), 30);
}

TEST(MooncakeTrace, MalformedLinesNameTheLineAndField) {
  const std::string good = R"({"timestamp": 0, "input_length": 10, "output_length": 2})";
  auto error = [&](const std::string& bad) {
    Result<Workload> w = Mooncake(good + "\n" + good + "\n" + bad + "\n" + good);
    EXPECT_FALSE(w);
    return w ? std::string() : w.error().message;
  };
  EXPECT_THAT(error("{not json"), HasSubstr("t.jsonl:3: not a JSON object"));
  EXPECT_THAT(error("[1, 2]"), HasSubstr("t.jsonl:3: not a JSON object"));
  EXPECT_THAT(error(R"({"input_length": 10, "output_length": 2})"),
              HasSubstr("t.jsonl:3: timestamp"));
  EXPECT_THAT(error(R"({"timestamp": -1, "input_length": 10, "output_length": 2})"),
              HasSubstr("t.jsonl:3: timestamp: expected a number >= 0"));
  EXPECT_THAT(error(R"({"timestamp": 0, "input_length": -3, "output_length": 2})"),
              HasSubstr("t.jsonl:3: input_length: expected an integer in [1, 4194304], got -3"));
  EXPECT_THAT(error(R"({"timestamp": 0, "input_length": "10", "output_length": 2})"),
              HasSubstr("input_length: expected an integer"));
  EXPECT_THAT(error(R"({"timestamp": 0, "input_length": 10.5, "output_length": 2})"),
              HasSubstr("input_length"));
  EXPECT_THAT(error(R"({"timestamp": 0, "input_length": 1e300, "output_length": 2})"),
              HasSubstr("input_length"));
  EXPECT_THAT(error(R"({"timestamp": 0, "input_length": 10})"),
              HasSubstr("output_length: missing"));
  EXPECT_THAT(error(R"({"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": 3})"),
              HasSubstr("hash_ids: expected an array"));
  EXPECT_THAT(
      error(R"({"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1, -2]})"),
      HasSubstr("t.jsonl:3: hash_ids[1]: expected an integer >= 0"));
}

TEST(AzureTrace, ReadsTheSlice) {
  Result<Workload> w = LoadTrace(BRIX_WORKLOAD_TESTDATA "/azure-slice.csv");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->sessions.size(), 40u);
  // 2023-11-16 18:17:03.9799600,4808,10 then 18:17:04.0319600,3180,8
  EXPECT_EQ(w->sessions[0].turns[0].prompt_tokens(), 4808);
  EXPECT_EQ(w->sessions[0].turns[0].output_tokens, 10);
  EXPECT_NEAR(w->sessions[1].start_s, 0.052, 1e-6);
  EXPECT_NE(w->sessions[0].turns[0].prompt[0].key, w->sessions[1].turns[0].prompt[0].key);
}

TEST(AzureTrace, ColumnsInAnyOrderTimeZonesAndNumbers) {
  Result<Workload> w = Azure(
      "GeneratedTokens,\"TIMESTAMP\",ContextTokens\r\n"
      "5,2024-05-10 00:00:01.5+00:00,100\r\n"
      "6,2024-05-10T01:00:00.5+01:00,200\r\n"  // the same instant minus one second
      "7,2024-05-09 23:59:59Z,300\r\n");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->sessions.size(), 3u);
  EXPECT_EQ(w->sessions[0].turns[0].prompt_tokens(), 300);
  EXPECT_DOUBLE_EQ(w->sessions[1].start_s, 1.5);
  EXPECT_EQ(w->sessions[1].turns[0].prompt_tokens(), 200);
  EXPECT_DOUBLE_EQ(w->sessions[2].start_s, 2.5);
  EXPECT_EQ(w->sessions[2].turns[0].output_tokens, 5);

  Result<Workload> seconds = Azure("TIMESTAMP,ContextTokens,GeneratedTokens\n10.5,3,4\n12,5,6\n");
  ASSERT_TRUE(seconds) << seconds.error().message;
  EXPECT_DOUBLE_EQ(seconds->sessions[1].start_s, 1.5);
}

TEST(AzureTrace, MalformedRowsNameTheLineAndColumn) {
  auto error = [](const std::string& text) {
    Result<Workload> w = Azure(text);
    EXPECT_FALSE(w);
    return w ? std::string() : w.error().message;
  };
  const std::string header = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  EXPECT_THAT(error("a,b,c\n1,2,3\n"), HasSubstr("t.csv:1: header: expected the columns"));
  EXPECT_THAT(error(""), HasSubstr("t.csv:1: header"));
  EXPECT_THAT(error(header + "1,2,3\n2023-13-01 00:00:00,2,3\n"),
              HasSubstr("t.csv:3: TIMESTAMP: expected"));
  EXPECT_THAT(error(header + "1,2,3\n2,x,3\n"),
              HasSubstr("t.csv:3: ContextTokens: expected an integer"));
  EXPECT_THAT(error(header + "1,2,-3\n"), HasSubstr("t.csv:2: GeneratedTokens"));
  EXPECT_THAT(error(header + "1,2\n"), HasSubstr("t.csv:2: expected at least 3 columns, got 2"));
}

TEST(LoadTrace, FormatFromExtensionOrError) {
  EXPECT_EQ(LoadTrace("/nonexistent/x.jsonl").error().code, Errc::kNotFound);
  Result<Workload> w = LoadTrace("/nonexistent/x.txt");
  ASSERT_FALSE(w);
  EXPECT_THAT(w.error().message, HasSubstr("cannot tell the trace format"));
  EXPECT_FALSE(ParseTraceFormat("sharegpt"));
  EXPECT_EQ(*ParseTraceFormat("azure"), TraceFormat::kAzure);
}

TEST(Workload, WindowSpeedAndLimit) {
  Workload w;
  for (int i = 0; i < 10; ++i) {
    Session s;
    s.id = i;
    s.start_s = i;
    s.think_s = 2;
    w.sessions.push_back(s);
  }
  Workload windowed = Window(w, 3, 4);  // starts 3, 4, 5, 6
  ASSERT_EQ(windowed.sessions.size(), 4u);
  EXPECT_DOUBLE_EQ(windowed.sessions[0].start_s, 0);
  EXPECT_DOUBLE_EQ(windowed.sessions[3].start_s, 3);
  Workload fast = Speed(windowed, 2);
  EXPECT_DOUBLE_EQ(fast.sessions[3].start_s, 1.5);
  EXPECT_DOUBLE_EQ(fast.sessions[3].think_s, 1);
  EXPECT_EQ(Window(w, 8, 0).sessions.size(), 2u);  // no end
  EXPECT_EQ(Limit(w, 3).sessions.size(), 3u);
}

TEST(Workload, SpreadTiesSpacesSharedStartsOverTheTickInFileOrder) {
  Workload w;
  // Ticks of 3 s: three sessions at 0, one at 3, two at 9.
  for (double start : {0.0, 0.0, 0.0, 3.0, 9.0, 9.0}) {
    Session s;
    s.id = w.sessions.size();
    s.start_s = start;
    w.sessions.push_back(s);
  }
  Workload spread = SpreadTies(w);
  ASSERT_EQ(spread.sessions.size(), 6u);
  const double want[] = {0, 1, 2, 3, 9, 10.5};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(spread.sessions[i].id, i);  // file order kept
    EXPECT_DOUBLE_EQ(spread.sessions[i].start_s, want[i]) << i;
  }
  // Nothing to spread: no ties, or no second start time to measure a tick against.
  Workload same;
  same.sessions.resize(3);
  EXPECT_EQ(SpreadTies(same).sessions[2].start_s, 0);
  // From 3 s on the starts are 0, 6, 6: the tick is 6, so the pair becomes 6 and 6 + 6/2.
  Workload later = SpreadTies(Window(w, 3, 0));
  EXPECT_DOUBLE_EQ(later.sessions[1].start_s, 6);
  EXPECT_DOUBLE_EQ(later.sessions[2].start_s, 9);
}

TEST(Distribution, ParsesAndDraws) {
  std::mt19937_64 rng(1);
  Result<Distribution> fixed = ParseDistribution("128");
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->Draw(rng), 128);
  Result<Distribution> uniform = ParseDistribution("uniform:10:20");
  ASSERT_TRUE(uniform);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int64_t v = uniform->Draw(rng);
    ASSERT_GE(v, 10);
    ASSERT_LE(v, 20);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 11u);  // both ends reachable
  Result<Distribution> normal = ParseDistribution("normal:100:0");
  ASSERT_TRUE(normal);
  EXPECT_EQ(normal->Draw(rng), 100);
  Result<Distribution> exponential = ParseDistribution("exponential:50");
  ASSERT_TRUE(exponential);
  double sum = 0;
  for (int i = 0; i < 20000; ++i) sum += static_cast<double>(exponential->Draw(rng));
  EXPECT_NEAR(sum / 20000, 50, 2.5);
  for (const char* bad : {"", "0", "-5", "abc", "uniform:5", "uniform:9:3", "normal:1:-1",
                          "exponential:0", "poisson:3", "1e99"}) {
    EXPECT_FALSE(ParseDistribution(bad)) << bad;
  }
}

TEST(Synthetic, DeterministicForASeedAndShapedByTheSpec) {
  SyntheticSpec spec;
  spec.rate = 50;
  spec.duration_s = 20;
  spec.input = *ParseDistribution("uniform:10:100");
  spec.output = *ParseDistribution("32");
  spec.prefix_groups = 3;
  spec.prefix_tokens = 400;
  spec.turns = 3;
  spec.think_s = 1.5;
  spec.seed = 7;
  Result<Workload> a = GenerateSynthetic(spec);
  Result<Workload> b = GenerateSynthetic(spec);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->sessions.size(), b->sessions.size());
  EXPECT_NEAR(static_cast<double>(a->sessions.size()), 1000, 120);  // Poisson, 50/s x 20 s
  std::set<uint64_t> groups;
  for (size_t i = 0; i < a->sessions.size(); ++i) {
    const Session& s = a->sessions[i];
    EXPECT_EQ(s.start_s, b->sessions[i].start_s);
    EXPECT_LT(s.start_s, 20);
    ASSERT_EQ(s.turns.size(), 3u);
    EXPECT_EQ(s.think_s, 1.5);
    ASSERT_EQ(s.turns[0].prompt.size(), 2u);
    EXPECT_EQ(s.turns[0].prompt[0].tokens, 400);
    groups.insert(s.turns[0].prompt[0].key);
    EXPECT_EQ(s.turns[1].prompt.size(), 1u);  // later turns: only new text
    EXPECT_EQ(s.turns[0].prompt[1], b->sessions[i].turns[0].prompt[1]);
    EXPECT_EQ(s.turns[2].output_tokens, 32);
  }
  EXPECT_EQ(groups.size(), 3u);

  spec.seed = 8;
  Result<Workload> c = GenerateSynthetic(spec);
  ASSERT_TRUE(c);
  EXPECT_NE(c->sessions[0].start_s, a->sessions[0].start_s);
}

TEST(Synthetic, ConstantArrivalsAndLimits) {
  SyntheticSpec spec;
  spec.arrival = Arrival::kConstant;
  spec.rate = 4;
  spec.duration_s = 2.5;
  Result<Workload> w = GenerateSynthetic(spec);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->sessions.size(), 10u);
  EXPECT_DOUBLE_EQ(w->sessions[9].start_s, 2.25);
  spec.max_sessions = 3;
  EXPECT_EQ(GenerateSynthetic(spec)->sessions.size(), 3u);

  SyntheticSpec bad;
  bad.rate = 0;
  EXPECT_THAT(GenerateSynthetic(bad).error().message, HasSubstr("rate"));
  bad = {};
  bad.rate = 1000;
  bad.duration_s = 3600;
  bad.turns = 10;  // 36 million requests
  EXPECT_THAT(GenerateSynthetic(bad).error().message, HasSubstr("10 million"));
  bad = {};
  bad.turns = 0;
  EXPECT_THAT(GenerateSynthetic(bad).error().message, HasSubstr("turns"));
  bad = {};
  bad.prefix_groups = 2;
  EXPECT_THAT(GenerateSynthetic(bad).error().message, HasSubstr("prefix tokens"));
  EXPECT_FALSE(ParseArrival("bursty"));
}

class PromptTextTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::string dir = std::string(BRIX_TOKENIZER_CACHE) + "/" + GetParam();
    auto tok = tokenizer::Tokenizer::LoadFiles(dir + "/tokenizer.json");
    ASSERT_TRUE(tok) << tok.error().message;
    tokenizer_ = *tok;
  }
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
};

TEST_P(PromptTextTest, CountsHoldAndEqualKeysGiveEqualPrefixes) {
  Result<PromptText> text = PromptText::Create(*tokenizer_);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_GT(text->word_count(), 5000u);
  tokenizer::EncodeOptions plain;
  plain.add_special_tokens = false;

  const std::vector<Segment> segments = {{MakeKey(KeySpace::kTraceBlock, 0), 512},
                                         {MakeKey(KeySpace::kTraceBlock, 1), 512},
                                         {MakeKey(KeySpace::kUnique, 9), 37}};
  const std::string rendered = text->Render(segments);
  Result<std::vector<tokenizer::TokenId>> ids = tokenizer_->Encode(rendered, plain);
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 512u + 512 + 37);
  std::vector<tokenizer::TokenId> direct;
  for (const Segment& s : segments) text->AppendIds(s, &direct);
  EXPECT_EQ(*ids, direct);

  // A partial block is a prefix of the full block; a different key is different text.
  const std::string full =
      text->Render(std::vector<Segment>{{MakeKey(KeySpace::kTraceBlock, 1), 512}});
  const std::string part =
      text->Render(std::vector<Segment>{{MakeKey(KeySpace::kTraceBlock, 1), 100}});
  EXPECT_TRUE(full.starts_with(part));
  EXPECT_NE(full, text->Render(std::vector<Segment>{{MakeKey(KeySpace::kSharedPrefix, 1), 512}}));

  // Inside a chat message the content keeps its count: the template adds a constant.
  const std::vector<tokenizer::ChatMessage> small = {
      {"user", text->Render(std::vector<Segment>{{7, 10}})}};
  const std::vector<tokenizer::ChatMessage> large = {
      {"user", text->Render(std::vector<Segment>{{8, 1000}})}};
  Result<size_t> a =
      tokenizer_->CountTokens(tokenizer::SerializeChat(*tokenizer_, small, true), plain);
  Result<size_t> b =
      tokenizer_->CountTokens(tokenizer::SerializeChat(*tokenizer_, large, true), plain);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b - *a, 990u);
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, PromptTextTest, ::testing::Values("llama3", "qwen3"));

}  // namespace
}  // namespace brix::workload
