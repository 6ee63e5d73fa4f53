#include "net/sse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace brix::net {
namespace {

struct OwnedEvent {
  std::string type;
  std::string data;
  std::string id;
  friend bool operator==(const OwnedEvent&, const OwnedEvent&) = default;
  friend std::ostream& operator<<(std::ostream& os, const OwnedEvent& e) {
    return os << "{type=" << e.type << " data=" << e.data << " id=" << e.id << "}";
  }
};

// Feeds `stream` in pieces of `piece` bytes (0: all at once) and collects the events.
std::vector<OwnedEvent> Parse(std::string_view stream, size_t piece = 0) {
  SseParser parser;
  std::vector<OwnedEvent> events;
  if (piece == 0) piece = stream.size() + 1;
  for (size_t offset = 0; offset < stream.size(); offset += piece) {
    parser.Feed(stream.substr(offset, piece));
    while (true) {
      auto next = parser.Next();
      EXPECT_TRUE(next.has_value());
      if (!next || !*next) break;
      const SseEvent& e = **next;
      events.push_back({std::string(e.type), std::string(e.data), std::string(e.id)});
    }
  }
  return events;
}

TEST(SseParserTest, ParsesVllmStyleStream) {
  const std::string stream =
      "data: {\"choices\":[{\"text\":\"Hi\"}]}\n\n"
      "data: {\"choices\":[{\"text\":\"!\"}]}\n\n"
      "data: [DONE]\n\n";
  EXPECT_THAT(Parse(stream),
              ::testing::ElementsAre(OwnedEvent{"message", "{\"choices\":[{\"text\":\"Hi\"}]}", ""},
                                     OwnedEvent{"message", "{\"choices\":[{\"text\":\"!\"}]}", ""},
                                     OwnedEvent{"message", "[DONE]", ""}));
}

TEST(SseParserTest, AnySplitGivesTheSameEventsAsOneFeed) {
  const std::string stream =
      "\xEF\xBB\xBF: comment\r\n"
      "event: add\r\nid: 7\r\ndata: line one\r\ndata:line two\r\n\r\n"
      "data: cr only\rdata: second\r\r"
      "retry: 1500\n"
      "data\n\n"
      "id\ndata: after id reset\n\n"
      "event: ignored-without-data\n\n"
      "data: no final blank line";
  const std::vector<OwnedEvent> whole = Parse(stream);
  EXPECT_THAT(whole, ::testing::ElementsAre(OwnedEvent{"add", "line one\nline two", "7"},
                                            OwnedEvent{"message", "cr only\nsecond", "7"},
                                            OwnedEvent{"message", "", "7"},
                                            OwnedEvent{"message", "after id reset", ""}));
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    EXPECT_EQ(Parse(stream, piece), whole) << "piece size " << piece;
  }
}

TEST(SseParserTest, CrLfSplitAcrossFeedsIsOneLineEnd) {
  SseParser parser;
  std::vector<std::string> data;
  for (std::string_view piece : {"data: a\r", "\n", "\r", "\ndata: b\n\n"}) {
    parser.Feed(piece);
    while (true) {
      auto next = parser.Next();
      ASSERT_TRUE(next.has_value());
      if (!*next) break;
      data.emplace_back((*next)->data);
    }
  }
  EXPECT_THAT(data, ::testing::ElementsAre("a", "b"));
}

TEST(SseParserTest, FieldRules) {
  // One leading space is stripped, not two; unknown fields are ignored; an id with NUL is
  // ignored; retry takes digits only.
  SseParser parser;
  using namespace std::string_literals;
  const std::string stream =
      "data:  two spaces\nfoo: bar\nid: a\0b\nretry: 12x\n\n"s + "retry: 250\nid: ok\ndata: x\n\n";
  parser.Feed(stream);
  auto first = parser.Next();
  ASSERT_TRUE(first.has_value() && first->has_value());
  EXPECT_EQ((*first)->data, " two spaces");
  EXPECT_EQ((*first)->id, "");
  EXPECT_FALSE(parser.retry().has_value());
  auto second = parser.Next();
  ASSERT_TRUE(second.has_value() && second->has_value());
  EXPECT_EQ((*second)->id, "ok");
  EXPECT_EQ(parser.retry(), std::chrono::milliseconds(250));
  EXPECT_EQ(parser.last_event_id(), "ok");
  auto end = parser.Next();
  ASSERT_TRUE(end.has_value());
  EXPECT_FALSE(end->has_value());
}

TEST(SseParserTest, SingleLineEventInOneFeedIsNotCopied) {
  SseParser parser;
  const std::string stream = "data: zero-copy\n\n";
  parser.Feed(stream);
  auto next = parser.Next();
  ASSERT_TRUE(next.has_value() && next->has_value());
  const std::string_view data = (*next)->data;
  EXPECT_EQ(data, "zero-copy");
  EXPECT_GE(data.data(), stream.data());
  EXPECT_LE(data.data() + data.size(), stream.data() + stream.size());
}

TEST(SseParserTest, EventDataSurvivesTheFeedItStartedIn) {
  SseParser parser;
  std::string first = "data: started here";
  parser.Feed(first);
  auto none = parser.Next();
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
  first.assign(first.size(), '#');  // the caller reuses its buffer
  const std::string second = "\n\n";
  parser.Feed(second);
  auto event = parser.Next();
  ASSERT_TRUE(event.has_value() && event->has_value());
  EXPECT_EQ((*event)->data, "started here");
}

TEST(SseParserTest, OversizedLineIsAnError) {
  SseParser parser(16);
  const std::string line = "data: " + std::string(32, 'x');
  parser.Feed(line);
  auto next = parser.Next();
  ASSERT_FALSE(next.has_value());
  EXPECT_EQ(next.error().code, Errc::kResourceExhausted);
  // The parser can be used again.
  const std::string ok = "\ndata: ok\n\n";
  parser.Feed(ok);
  auto after = parser.Next();
  ASSERT_TRUE(after.has_value());
}

TEST(SseParserTest, OversizedEventDataIsAnError) {
  SseParser parser(16);
  const std::string stream = "data: 0123456789\ndata: 0123456789\n\n";
  parser.Feed(stream);
  auto next = parser.Next();
  ASSERT_FALSE(next.has_value());
  EXPECT_EQ(next.error().code, Errc::kResourceExhausted);
}

TEST(SseWriterTest, FormatsVllmStyleEvents) {
  EXPECT_EQ(FormatSseEvent("[DONE]"), "data: [DONE]\n\n");
  EXPECT_EQ(FormatSseEvent("a\nb\r\nc\rd"), "data: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(FormatSseEvent("x", "update", "42"), "event: update\nid: 42\ndata: x\n\n");
  EXPECT_EQ(FormatSseEvent("x", "bad\nname"), "event: bad name\ndata: x\n\n");
  std::string out;
  AppendSseComment(&out, "ping");
  EXPECT_EQ(out, ": ping\n\n");
}

TEST(SseWriterTest, ParserReadsBackWhatTheWriterWrote) {
  const std::string data = "line one\nline two\n\nafter empty line";
  const std::vector<OwnedEvent> events = Parse(FormatSseEvent(data, "e", "9"));
  EXPECT_THAT(events, ::testing::ElementsAre(OwnedEvent{"e", data, "9"}));
}

}  // namespace
}  // namespace brix::net
