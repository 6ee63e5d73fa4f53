#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/internal/regex.h"

#include <fmt/format.h>
#include <pcre2.h>

#include "base/check.h"

namespace brix::tokenizer::internal {

namespace {

std::string ErrorText(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? fmt::format("PCRE2 error {}", code)
               : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// What one thread needs to run matches: match data with room for the overall match only (the
// patterns' groups are never read) and a JIT stack larger than PCRE2's 32 KiB default, so that
// long runs of text that the pattern backtracks over do not fail. Created on a thread's first
// match and freed when the thread exits.
class ThreadMatchState {
 public:
  ThreadMatchState()
      : data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        stack_(pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr)) {
    BRIX_CHECK(data_ != nullptr && context_ != nullptr) << "out of memory";
    // A JIT stack is only an optimisation; without one PCRE2 falls back to its 32 KiB default.
    if (stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
  ~ThreadMatchState() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
  }

  pcre2_match_data* data() const { return data_; }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_data* data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* stack_;
};

ThreadMatchState& ThisThread() {
  thread_local ThreadMatchState state;
  return state;
}

// White space as ECMAScript defines it (WhiteSpace and LineTerminator: tab, LF, VT, FF, CR, the
// space separators, LS, PS and the BOM), as a character class body.
constexpr std::string_view kWhiteSpaceClass = R"(\t-\r\p{Zs}\x{2028}\x{2029}\x{FEFF})";

}  // namespace

Result<std::string> TranslatePattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpaceClass) : fmt::format("[{}]", kWhiteSpaceClass);
      } else if (e == 'S') {
        if (in_class) {
          return InvalidArgument(
              fmt::format("\\S inside a character class (offset {}) is unsupported", i - 1));
        }
        out += fmt::format("[^{}]", kWhiteSpaceClass);
      } else if (e == 'Q') {
        // Quoted text runs to \E (or the end) and is copied as it is.
        const size_t end = pattern.find("\\E", i + 1);
        const size_t stop = end == std::string_view::npos ? pattern.size() : end + 2;
        out.append("\\Q").append(pattern.substr(i + 1, stop - i - 1));
        i = stop - 1;
      } else {
        out.push_back(c);
        out.push_back(e);
      }
    } else if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      // "[^" and a ']' right after the opening are part of the class, not its end.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
    } else if (c == '[' && in_class && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      // A POSIX class such as [:alpha:] inside a class.
      const size_t end = pattern.find(":]", i + 2);
      const size_t stop = end == std::string_view::npos ? pattern.size() : end + 2;
      out.append(pattern.substr(i, stop - i));
      i = stop - 1;
    } else {
      if (c == ']' && in_class) in_class = false;
      out.push_back(c);
    }
  }
  return out;
}

Result<Regex> Regex::Compile(std::string_view pattern, bool literal) {
  // PCRE2_LITERAL admits only a few other options; UCP and \C do not matter to it anyway.
  const uint32_t options =
      literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  std::string translated;
  if (!literal) {
    Result<std::string> t = TranslatePattern(pattern);
    if (!t) return t.error();
    translated = std::move(*t);
    pattern = translated;
  }
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &error_offset, nullptr);
  if (code == nullptr) {
    return InvalidArgument(fmt::format("invalid regex at offset {}{}: {}", error_offset,
                                       translated.empty() ? "" : " (after \\s expansion)",
                                       ErrorText(error)));
  }
  // JIT is unavailable on some platforms and builds; the interpreter gives the same matches.
  const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return Regex(code, jit);
}

Regex& Regex::operator=(Regex&& other) noexcept {
  if (this != &other) {
    pcre2_code_free(code_);
    code_ = std::exchange(other.code_, nullptr);
    jit_ = other.jit_;
  }
  return *this;
}

Regex::~Regex() { pcre2_code_free(code_); }

Result<bool> Regex::Search(std::string_view subject, size_t offset, size_t* start,
                           size_t* end) const {
  ThreadMatchState& state = ThisThread();
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  // The subject was validated once by the caller; PCRE2 would otherwise re-check all of it on
  // every call (pcre2_jit_match never checks).
  const int rc =
      jit_ ? pcre2_jit_match(code_, text, subject.size(), offset, 0, state.data(), state.context())
           : pcre2_match(code_, text, subject.size(), offset, PCRE2_NO_UTF_CHECK, state.data(),
                         state.context());
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    return ResourceExhausted(fmt::format("pre-tokenizer regex failed: {}", ErrorText(rc)));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data());
  *start = ovector[0];
  *end = ovector[1];
  return true;
}

}  // namespace brix::tokenizer::internal
