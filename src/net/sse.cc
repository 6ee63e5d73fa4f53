#include "net/sse.h"

#include <cstring>

#include "base/check.h"

namespace brix::net {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// The first CR or LF in [p, p + n), or nullptr. Two memchr passes beat a byte loop: streams
// from vLLM use LF only, so the CR pass usually scans just the line.
const char* FindLineEnd(const char* p, size_t n) {
  if (n == 0) return nullptr;
  const auto* lf = static_cast<const char*>(std::memchr(p, '\n', n));
  const size_t limit = lf != nullptr ? static_cast<size_t>(lf - p) : n;
  const auto* cr = static_cast<const char*>(std::memchr(p, '\r', limit));
  return cr != nullptr ? cr : lf;
}

// Appends `value` with CR and LF replaced by spaces.
void AppendSingleLine(std::string* out, std::string_view value) {
  const size_t start = out->size();
  out->append(value);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
}

}  // namespace

SseParser::SseParser(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

void SseParser::Feed(std::string_view bytes) {
  BRIX_CHECK(pos_ >= input_.size()) << "Feed() before Next() consumed the previous bytes";
  input_ = bytes;
  pos_ = 0;
}

Result<std::optional<SseEvent>> SseParser::Next() {
  if (event_returned_) ClearDispatched();
  while (pos_ < input_.size()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (input_[pos_] == '\n') {
        ++pos_;
        continue;
      }
    }
    const char* begin = input_.data() + pos_;
    const size_t available = input_.size() - pos_;
    const char* end = FindLineEnd(begin, available);
    if (end == nullptr) {
      if (partial_line_.size() + available > max_event_bytes_) {
        Fail();
        return ResourceExhausted("event stream line exceeds " + std::to_string(max_event_bytes_) +
                                 " bytes");
      }
      partial_line_.append(begin, available);
      pos_ = input_.size();
      break;
    }
    const size_t length = static_cast<size_t>(end - begin);
    pos_ += length + 1;
    if (*end == '\r') {
      if (pos_ < input_.size()) {
        if (input_[pos_] == '\n') ++pos_;
      } else {
        skip_lf_ = true;
      }
    }
    if (partial_line_.size() + length > max_event_bytes_) {
      Fail();
      return ResourceExhausted("event stream line exceeds " + std::to_string(max_event_bytes_) +
                               " bytes");
    }
    LineResult result;
    if (partial_line_.empty()) {
      result = ProcessLine(std::string_view(begin, length), /*stable=*/true);
    } else {
      partial_line_.append(begin, length);
      result = ProcessLine(partial_line_, /*stable=*/false);
      partial_line_.clear();
    }
    if (result == LineResult::kTooLarge) {
      Fail();
      return ResourceExhausted("event stream data exceeds " + std::to_string(max_event_bytes_) +
                               " bytes");
    }
    if (result == LineResult::kEvent) {
      return std::optional<SseEvent>(SseEvent{
          .type = event_type_.empty() ? std::string_view("message") : event_type_,
          .data = data_is_view_ ? data_view_ : std::string_view(data_),
          .id = last_event_id_,
      });
    }
  }
  // The fed bytes are used up; a data view into them must not outlive this call.
  OwnData();
  return std::optional<SseEvent>();
}

SseParser::LineResult SseParser::ProcessLine(std::string_view line, bool stable) {
  if (at_stream_start_) {
    at_stream_start_ = false;
    if (line.starts_with(kBom)) line.remove_prefix(kBom.size());
  }
  if (line.empty()) return Dispatch();
  if (line.front() == ':') return LineResult::kNone;  // comment

  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }

  if (field == "data") return AppendData(value, stable);
  if (field == "event") {
    event_type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_.assign(value);
  } else if (field == "retry") {
    // Digits only; values too long for 64 bits are ignored rather than wrapped.
    if (!value.empty() && value.size() <= 18 &&
        value.find_first_not_of("0123456789") == std::string_view::npos) {
      int64_t ms = 0;
      for (char c : value) ms = ms * 10 + (c - '0');
      retry_ = std::chrono::milliseconds(ms);
    }
  }
  // Other field names are ignored, as the spec requires.
  return LineResult::kNone;
}

SseParser::LineResult SseParser::AppendData(std::string_view value, bool stable) {
  const size_t current = data_is_view_ ? data_view_.size() : data_.size();
  const size_t joined = data_lines_ == 0 ? value.size() : current + 1 + value.size();
  if (joined > max_event_bytes_) return LineResult::kTooLarge;
  if (data_lines_ == 0) {
    if (stable) {
      data_view_ = value;
      data_is_view_ = true;
    } else {
      data_.assign(value);
    }
  } else {
    OwnData();
    data_.push_back('\n');
    data_.append(value);
  }
  ++data_lines_;
  return LineResult::kNone;
}

SseParser::LineResult SseParser::Dispatch() {
  if (data_lines_ == 0) {
    // No data: the spec resets the event type and dispatches nothing.
    event_type_.clear();
    return LineResult::kNone;
  }
  event_returned_ = true;
  return LineResult::kEvent;
}

void SseParser::OwnData() {
  if (!data_is_view_) return;
  data_.assign(data_view_);
  data_is_view_ = false;
  data_view_ = {};
}

void SseParser::ClearDispatched() {
  event_returned_ = false;
  data_lines_ = 0;
  data_is_view_ = false;
  data_view_ = {};
  data_.clear();
  event_type_.clear();
}

void SseParser::Fail() {
  ClearDispatched();
  partial_line_.clear();
  skip_lf_ = false;
  pos_ = input_.size();
}

void AppendSseEvent(std::string* out, std::string_view data, std::string_view event,
                    std::string_view id) {
  if (!event.empty()) {
    out->append("event: ");
    AppendSingleLine(out, event);
    out->push_back('\n');
  }
  if (!id.empty()) {
    out->append("id: ");
    AppendSingleLine(out, id);
    out->push_back('\n');
  }
  // One data line per line of `data`; CRLF, LF and CR all end a line, as for the parser.
  while (true) {
    const char* end = FindLineEnd(data.data(), data.size());
    const size_t length = end != nullptr ? static_cast<size_t>(end - data.data()) : data.size();
    out->append("data: ");
    out->append(data.substr(0, length));
    out->push_back('\n');
    if (end == nullptr) break;
    size_t skip = length + 1;
    if (*end == '\r' && skip < data.size() && data[skip] == '\n') ++skip;
    data.remove_prefix(skip);
  }
  out->push_back('\n');
}

std::string FormatSseEvent(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 24);
  AppendSseEvent(&out, data, event, id);
  return out;
}

void AppendSseComment(std::string* out, std::string_view text) {
  out->append(": ");
  AppendSingleLine(out, text);
  out->append("\n\n");
}

}  // namespace brix::net
