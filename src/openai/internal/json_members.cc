#include "openai/internal/json_members.h"

#include <bit>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstring>

namespace brix::openai::internal {
namespace {

namespace json = boost::json;
constexpr size_t kNpos = std::string_view::npos;

// A SAX handler that accepts every event: Boost.JSON's parser then only validates. Its limits
// are those of the document parser (boost/json/detail/handler.hpp), so that it accepts exactly
// what boost::json::parse accepts.
struct Validator {
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(size_t, json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// JSON's whitespace (RFC 8259), as Boost.JSON reads it.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// s[i] is a string's opening quote: the offset past its closing quote, or kNpos. In valid JSON
// a backslash inside a string always starts an escape, so a quote ends the string exactly when
// an even number of backslashes precede it; memchr() finds the quotes.
size_t SkipString(std::string_view s, size_t i) {
  const size_t first = i + 1;  // the string's first byte
  size_t from = first;
  while (from < s.size()) {
    const void* quote = std::memchr(s.data() + from, '"', s.size() - from);
    if (quote == nullptr) return kNpos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(quote) - s.data());
    size_t backslashes = 0;
    while (at - backslashes > first && s[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return at + 1;
    from = at + 1;
  }
  return kNpos;
}

// s[i] starts a value: the offset past its end, or kNpos. Containers are skipped by counting
// brackets outside strings; scalars (numbers, true, false, null) end at a delimiter.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return kNpos;
  const char c = s[i];
  if (c == '"') return SkipString(s, i);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (i < s.size()) {
      switch (s[i]) {
        case '"':
          i = SkipString(s, i);
          if (i == kNpos) return kNpos;
          continue;
        case '{':
        case '[':
          ++depth;
          break;
        case '}':
        case ']':
          if (--depth == 0) return i + 1;
          break;
        default:
          break;
      }
      ++i;
    }
    return kNpos;
  }
  const size_t begin = i;
  while (i < s.size() && !IsSpace(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i == begin ? kNpos : i;
}

// A validating recursive-descent reader of one JSON value that answers only "surely valid": it
// accepts a subset of what Boost.JSON's parser accepts (strict JSON, UTF-8 as Unicode's table
// 3-7, surrogate escapes paired, depth at most max_depth), and returns false on anything else,
// invalid or not, which Boost.JSON then decides. Its point is speed: Boost.JSON 1.81 reads the
// rest of any string after its first escape byte by byte (basic_parser::parse_escaped, ~1 ns a
// byte), and long prompts are strings full of \n. This reads 8 plain bytes at a time.
class SureValid {
 public:
  // `members` (may be null) receives the members of the top-level object as they are read.
  SureValid(std::string_view text, size_t max_depth, std::vector<JsonMember>* members)
      : s_(text), max_depth_(max_depth), members_(members) {}

  // Whether the whole text is one valid value.
  bool Document() { return Value(0) && i_ == s_.size(); }

 private:
  bool Value(size_t depth) {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return Object(depth + 1);
      case '[':
        return Array(depth + 1);
      case '"':
        return String();
      case 't':
        return Word("true");
      case 'f':
        return Word("false");
      case 'n':
        return Word("null");
      default:
        return Number();
    }
  }

  bool Object(size_t depth) {
    if (depth > max_depth_) return false;
    i_ = SkipSpace(s_, i_ + 1);
    if (At('}')) return ++i_, true;
    while (true) {
      const size_t key_begin = i_;
      if (!At('"') || !String()) return false;
      const size_t key_end = i_;
      i_ = SkipSpace(s_, i_);
      if (!At(':')) return false;
      i_ = SkipSpace(s_, i_ + 1);
      const size_t value_begin = i_;
      if (!Value(depth)) return false;
      if (depth == 1 && members_ != nullptr) {
        members_->push_back({s_.substr(key_begin + 1, key_end - key_begin - 2),
                             s_.substr(key_begin, i_ - key_begin),
                             s_.substr(value_begin, i_ - value_begin)});
      }
      i_ = SkipSpace(s_, i_);
      if (At('}')) return ++i_, true;
      if (!At(',')) return false;
      i_ = SkipSpace(s_, i_ + 1);
    }
  }

  bool Array(size_t depth) {
    if (depth > max_depth_) return false;
    i_ = SkipSpace(s_, i_ + 1);
    if (At(']')) return ++i_, true;
    while (true) {
      if (!Value(depth)) return false;
      i_ = SkipSpace(s_, i_);
      if (At(']')) return ++i_, true;
      if (!At(',')) return false;
      i_ = SkipSpace(s_, i_ + 1);
    }
  }

  bool Word(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  // RFC 8259's number. An exponent of more than 9 digits is left to Boost.JSON, which rejects
  // exponents beyond INT_MAX (error::exponent_overflow) by a rule that also counts digits.
  bool Number() {
    const size_t begin = i_;
    if (At('-')) ++i_;
    if (At('0')) {
      ++i_;
    } else if (Digits() == 0) {
      return false;
    }
    if (At('.')) {
      ++i_;
      if (Digits() == 0) return false;
    }
    if (At('e') || At('E')) {
      ++i_;
      if (At('+') || At('-')) ++i_;
      const size_t digits = Digits();
      if (digits == 0 || digits > 9) return false;
    }
    return i_ - begin <= kMaxNumberSize;
  }

  size_t Digits() {
    const size_t begin = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ - begin;
  }

  bool String() {
    ++i_;
    while (true) {
      SkipPlain();
      if (i_ >= s_.size()) return false;
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c == '\\') {
        if (!Escape()) return false;
      } else if (c < 0x20) {
        return false;
      } else if (c >= 0x80) {
        if (!Utf8()) return false;
      } else {
        ++i_;
      }
    }
  }

  // Skips bytes that stand for themselves in a string (0x20..0x7F but '"' and '\\'), 8 at a time
  // (the has-less / has-zero word tricks: a byte's flag is exact up to the first flagged byte,
  // which on a little-endian machine is the lowest).
  void SkipPlain() {
    constexpr uint64_t kOnes = 0x0101010101010101;
    constexpr uint64_t kHigh = 0x8080808080808080;
    const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    while (i_ + 8 <= s_.size()) {
      uint64_t w;
      std::memcpy(&w, s_.data() + i_, 8);
      const uint64_t special = (w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) |
                               has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'));
      if (special == 0) {
        i_ += 8;
        continue;
      }
      if constexpr (std::endian::native == std::endian::little) {
        i_ += static_cast<size_t>(std::countr_zero(special)) / 8;
      }
      return;
    }
  }

  // s_[i_] is a backslash.
  bool Escape() {
    if (i_ + 1 >= s_.size()) return false;
    switch (s_[i_ + 1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        i_ += 2;
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    const int u1 = Hex4(i_ + 2);
    if (u1 < 0 || (u1 >= 0xdc00 && u1 <= 0xdfff)) return false;
    if (u1 < 0xd800 || u1 > 0xdbff) {
      i_ += 6;
      return true;
    }
    // A leading surrogate: a trailing one must follow.
    if (i_ + 8 > s_.size() || s_[i_ + 6] != '\\' || s_[i_ + 7] != 'u') return false;
    const int u2 = Hex4(i_ + 8);
    if (u2 < 0xdc00 || u2 > 0xdfff) return false;
    i_ += 12;
    return true;
  }

  // The value of 4 hex digits at `at`, or -1.
  int Hex4(size_t at) const {
    if (at + 4 > s_.size()) return -1;
    int value = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const char c = s_[k];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return -1;
      }
      value = value * 16 + digit;
    }
    return value;
  }

  // s_[i_] starts a multi-byte sequence: well-formed UTF-8 per Unicode's table 3-7 (no overlong
  // forms, no surrogates, at most U+10FFFF), as boost/json/detail/utf8.hpp checks it.
  bool Utf8() {
    const auto byte = [&](size_t k) {
      return i_ + k < s_.size() ? static_cast<unsigned char>(s_[i_ + k]) : 0u;
    };
    const auto tail = [](unsigned b) { return b >= 0x80 && b <= 0xbf; };
    const unsigned b0 = byte(0);
    const unsigned b1 = byte(1);
    size_t length;
    bool second_ok;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      length = 2;
      second_ok = tail(b1);
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      length = 3;
      second_ok = b0 == 0xe0   ? b1 >= 0xa0 && b1 <= 0xbf
                  : b0 == 0xed ? b1 >= 0x80 && b1 <= 0x9f
                               : tail(b1);
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      length = 4;
      second_ok = b0 == 0xf0   ? b1 >= 0x90 && b1 <= 0xbf
                  : b0 == 0xf4 ? b1 >= 0x80 && b1 <= 0x8f
                               : tail(b1);
    } else {
      return false;
    }
    if (!second_ok) return false;
    for (size_t k = 2; k < length; ++k) {
      if (!tail(byte(k))) return false;
    }
    i_ += length;
    return true;
  }

  bool At(char c) const { return i_ < s_.size() && s_[i_] == c; }

  // Numbers longer than this are left to Boost.JSON, whose exponent check counts digits.
  static constexpr size_t kMaxNumberSize = 4096;

  std::string_view s_;
  size_t max_depth_;
  std::vector<JsonMember>* members_;
  size_t i_ = 0;
};

}  // namespace

std::optional<TopLevelObject> ReadTopLevelObject(std::string_view text, size_t max_depth) {
  TopLevelObject top;
  top.begin = SkipSpace(text, 0);
  top.end = text.size();
  while (top.end > top.begin && IsSpace(text[top.end - 1])) --top.end;
  const bool object = top.begin < top.end && text[top.begin] == '{';
  const std::string_view object_text = text.substr(top.begin, top.end - top.begin);
  if (object && SureValid(object_text, max_depth, &top.members).Document()) return top;
  // Not surely valid: Boost.JSON decides, and the members are found again by ScanMembers().
  json::parse_options options;
  options.max_depth = max_depth;
  json::basic_parser<Validator> parser(options);
  json::error_code ec;
  const size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || !parser.done() || used != text.size() || !object) return std::nullopt;
  std::optional<std::vector<JsonMember>> members = ScanMembers(object_text);
  if (!members) return std::nullopt;
  top.members = std::move(*members);
  return top;
}

std::optional<std::vector<JsonMember>> ScanMembers(std::string_view object) {
  if (object.empty() || object.front() != '{') return std::nullopt;
  std::vector<JsonMember> members;
  size_t i = SkipSpace(object, 1);
  if (i < object.size() && object[i] == '}') return members;
  while (i < object.size() && object[i] == '"') {
    const size_t key_begin = i;
    i = SkipString(object, i);
    if (i == kNpos) return std::nullopt;
    const std::string_view key = object.substr(key_begin + 1, i - key_begin - 2);
    i = SkipSpace(object, i);
    if (i >= object.size() || object[i] != ':') return std::nullopt;
    const size_t value_begin = SkipSpace(object, i + 1);
    i = SkipValue(object, value_begin);
    if (i == kNpos) return std::nullopt;
    members.push_back({key, object.substr(key_begin, i - key_begin),
                       object.substr(value_begin, i - value_begin)});
    i = SkipSpace(object, i);
    if (i >= object.size()) return std::nullopt;
    if (object[i] == '}') return members;
    if (object[i] != ',') return std::nullopt;
    i = SkipSpace(object, i + 1);
  }
  return std::nullopt;
}

bool KeyIs(std::string_view key, std::string_view name) {
  if (key.find('\\') == kNpos) return key == name;
  // Decoding never lengthens a key: an escape of 2 to 12 bytes stands for 1 to 4.
  if (key.size() < name.size()) return false;
  std::string quoted;
  quoted.reserve(key.size() + 2);
  quoted.append(1, '"').append(key).append(1, '"');
  json::error_code ec;
  const json::value decoded = json::parse(quoted, ec);
  return !ec && decoded.is_string() && std::string_view(decoded.get_string()) == name;
}

void AppendEdited(std::span<const JsonMember> members, std::span<const MemberEdit> edits,
                  std::string* out) {
  // The edit each member falls under (edits.size(): none, kept) and, per edit, the member its
  // new text replaces (members.size(): none, appended).
  std::vector<size_t> edit_of(members.size(), edits.size());
  std::vector<size_t> written_at(edits.size(), members.size());
  size_t size = 2;
  for (size_t m = 0; m < members.size(); ++m) {
    for (size_t e = 0; e < edits.size(); ++e) {
      if (KeyIs(members[m].key, edits[e].key)) {
        edit_of[m] = e;
        written_at[e] = m;
        break;
      }
    }
    size += members[m].text.size() + 1;
  }
  for (const MemberEdit& edit : edits) size += edit.key.size() + edit.value.size() + 4;
  out->reserve(out->size() + size);

  bool first = true;
  const auto separate = [&] {
    if (!first) out->push_back(',');
    first = false;
  };
  const auto write = [&](const MemberEdit& edit) {
    separate();
    out->append(1, '"').append(edit.key).append("\":").append(edit.value);
  };
  out->push_back('{');
  for (size_t m = 0; m < members.size(); ++m) {
    if (edit_of[m] == edits.size()) {
      separate();
      out->append(members[m].text);
    } else if (written_at[edit_of[m]] == m) {
      write(edits[edit_of[m]]);
    }
  }
  for (size_t e = 0; e < edits.size(); ++e) {
    if (written_at[e] == members.size()) write(edits[e]);
  }
  out->push_back('}');
}

}  // namespace brix::openai::internal
