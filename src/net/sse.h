// Server-Sent Events: an incremental parser for `text/event-stream` bodies and a formatter.
//
// SseParser follows the WHATWG HTML "event stream interpretation" rules: lines end in CRLF, LF
// or CR (also when a CRLF pair is split between two Feed() calls), a leading UTF-8 BOM is
// skipped, lines starting with ':' are comments, `data` lines of one event are joined with '\n',
// `event` names the event type ("message" when absent), `id` sets the last event ID (ignored when
// it contains NUL) and `retry` sets the reconnection time (digits only). An event is dispatched
// at an empty line and only when it had at least one `data` line; an incomplete event at the end
// of the stream is simply never returned. Bytes are passed through undecoded (no U+FFFD
// replacement of invalid UTF-8).
//
//   SseParser parser;
//   parser.Feed(bytes);                       // e.g. what StreamingResponse::Read() returned
//   while (true) {
//     auto next = parser.Next();
//     if (!next) return next.error();         // an event exceeded the size limit
//     if (!*next) break;                      // need more bytes
//     const SseEvent& event = **next;         // views valid until the next Feed()/Next()
//   }
//
// Fast path: an event with a single data line that lies within one fed buffer is returned as a
// view into that buffer, without copying. Otherwise data is accumulated in an internal buffer
// whose capacity is reused across events.
//
// Threading: an SseParser is a plain value used by one thread at a time; the free functions are
// safe from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace brix::net {

// One dispatched event. The views point into the parser or into the fed bytes and are valid
// until the next call to Feed() or Next().
struct SseEvent {
  std::string_view type;  // the `event` field, or "message" when the event had none
  std::string_view data;  // the `data` lines joined by '\n' (no trailing newline)
  std::string_view id;    // the last event ID at dispatch time (empty when never set)
};

class SseParser {
 public:
  // Default for the largest line or event data the parser accepts: 16 MiB.
  static constexpr size_t kDefaultMaxEventBytes = 16 << 20;

  // `max_event_bytes` bounds both a single line and the joined data of one event, so a peer
  // that never ends a line cannot make the parser buffer without limit.
  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes);

  SseParser(const SseParser&) = delete;
  SseParser& operator=(const SseParser&) = delete;

  // Hands the parser the next bytes of the stream. They are not copied up front: `bytes` must
  // stay valid until Next() has returned "need more" (an empty optional) for them, which must
  // happen before the next Feed().
  void Feed(std::string_view bytes);

  // The next complete event from the fed bytes, or an empty optional when they hold no further
  // complete event. Returns ResourceExhausted when a line or an event's data exceeds
  // max_event_bytes; the parser then drops the rest of the fed bytes and the partial event, and
  // the caller should abandon the stream.
  Result<std::optional<SseEvent>> Next();

  // The last event ID buffer (persists across events, as the spec requires).
  std::string_view last_event_id() const { return last_event_id_; }

  // The reconnection time from the last valid `retry` field, if any.
  std::optional<std::chrono::milliseconds> retry() const { return retry_; }

 private:
  enum class LineResult { kNone, kEvent, kTooLarge };

  // Interprets one complete line (without its terminator). `stable` says whether `line` points
  // into the fed bytes (and may be kept as a view until they are consumed) rather than into
  // partial_line_.
  LineResult ProcessLine(std::string_view line, bool stable);
  LineResult AppendData(std::string_view value, bool stable);
  LineResult Dispatch();
  // Copies a data view into data_ before the fed bytes it points into go away.
  void OwnData();
  // Clears the event that the previous Next() returned.
  void ClearDispatched();
  void Fail();

  const size_t max_event_bytes_;

  std::string_view input_;  // the bytes of the last Feed() ...
  size_t pos_ = 0;          // ... and how far they have been consumed

  std::string partial_line_;     // a line that started in an earlier Feed() and has not ended
  bool skip_lf_ = false;         // the last line ended with a CR: a following LF belongs to it
  bool at_stream_start_ = true;  // the next complete line is the first (may start with a BOM)

  // The event being assembled. Its data is either data_view_ (one line, inside input_) or data_.
  size_t data_lines_ = 0;
  bool data_is_view_ = false;
  std::string_view data_view_;
  std::string data_;
  std::string event_type_;
  bool event_returned_ = false;  // the last Next() returned views into data_/event_type_

  std::string last_event_id_;
  std::optional<std::chrono::milliseconds> retry_;
};

// Appends one event in the format vLLM and OpenAI stream: optional "event: <event>\n" and
// "id: <id>\n" lines, one "data: <line>\n" per line of `data` (split at CRLF, LF or CR), then an
// empty line. CR and LF inside `event` and `id` are replaced by spaces so that they cannot start
// new fields.
void AppendSseEvent(std::string* out, std::string_view data, std::string_view event = {},
                    std::string_view id = {});

// AppendSseEvent into a new string, e.g. FormatSseEvent("[DONE]") == "data: [DONE]\n\n".
std::string FormatSseEvent(std::string_view data, std::string_view event = {},
                           std::string_view id = {});

// Appends a comment line and an empty line (": <text>\n\n"), which clients ignore; proxies send
// one periodically to keep idle streams open. Line breaks in `text` become spaces.
void AppendSseComment(std::string* out, std::string_view text);

}  // namespace brix::net
