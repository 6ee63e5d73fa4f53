// Compares Brix's tokenizer with the reference implementation's output (oracle.mjs) for every
// corpus string: encode ids, token counts, decode (plain, skipping special tokens, with clean-up)
// of the reference ids, decode of random id lists, and token-prefix stability of the canonical
// chat serialisation. Prints each mismatch with the input escaped; exits 1 if there is any.
//
//   tokenizer_oracle_compare --tokenizer DIR --expected FILE [--name NAME] [--show N]
#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace json = boost::json;
using brix::tokenizer::ChatMessage;
using brix::tokenizer::TokenId;
using brix::tokenizer::Tokenizer;

std::string FromHex(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

// The text with everything but printable ASCII escaped; ill-formed UTF-8 shows as \xNN.
std::string Escape(std::string_view s, size_t limit = 400) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < limit;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c < 0x80) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else {
      // Decode one well-formed sequence if there is one (no overlongs, surrogates or > U+10FFFF).
      const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      bool ok = n > 0 && c <= 0xF4 && i + n <= s.size();
      uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
      for (size_t k = 1; ok && k < n; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        ok = (b & 0xC0) == 0x80;
        cp = (cp << 6) | (b & 0x3F);
      }
      ok = ok && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
           cp >= (n == 2   ? 0x80u
                  : n == 3 ? 0x800u
                           : 0x10000u);
      if (!ok) {
        out += fmt::format("\\x{:02x}", c);
        ++i;
        continue;
      }
      out += fmt::format("\\u{{{:x}}}", cp);
      i += n;
    }
  }
  if (out.size() >= limit) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::vector<TokenId> ToIds(const json::value& v) {
  std::vector<TokenId> ids;
  for (const json::value& x : v.as_array())
    ids.push_back(static_cast<TokenId>(x.to_number<int64_t>()));
  return ids;
}

std::string IdsAround(const Tokenizer& t, const std::vector<TokenId>& ids, size_t at) {
  std::string out;
  const size_t begin = at > 3 ? at - 3 : 0;
  for (size_t i = begin; i < ids.size() && i < at + 4; ++i) {
    out += fmt::format("{}{}={} ", i == at ? "*" : "", ids[i],
                       Escape(t.IdToToken(ids[i]).value_or("?"), 40));
  }
  return out;
}

struct Options {
  std::string tokenizer_dir;
  std::string expected;
  std::string name = "tokenizer";
  size_t show = 20;
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--tokenizer") {
      o->tokenizer_dir = argv[i + 1];
    } else if (flag == "--expected") {
      o->expected = argv[i + 1];
    } else if (flag == "--name") {
      o->name = argv[i + 1];
    } else if (flag == "--show") {
      o->show = std::stoul(argv[i + 1]);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !o->tokenizer_dir.empty() && !o->expected.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, &options)) {
    std::fprintf(stderr, "usage: %s --tokenizer DIR --expected FILE [--name NAME] [--show N]\n",
                 argv[0]);
    return 2;
  }
  const auto load_start = std::chrono::steady_clock::now();
  auto loaded = Tokenizer::LoadDirectory(options.tokenizer_dir);
  if (!loaded) {
    std::fprintf(stderr, "%s: %s\n", options.name.c_str(), loaded.error().ToString().c_str());
    return 1;
  }
  const Tokenizer& tok = **loaded;
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();
  std::ifstream in(options.expected);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read %s\n", options.name.c_str(), options.expected.c_str());
    return 1;
  }

  size_t strings = 0;
  size_t failed = 0;
  size_t reported = 0;
  std::vector<ChatMessage> conversation;
  const auto fail = [&](const json::object& e, std::string_view what, const std::string& detail) {
    if (reported++ < options.show) {
      std::printf("MISMATCH %s #%lld (%s) %.*s\n  input: \"%s\"\n  %s\n", options.name.c_str(),
                  static_cast<long long>(e.at("id").to_number<int64_t>()),
                  std::string(e.at("kind").as_string()).c_str(), static_cast<int>(what.size()),
                  what.data(), Escape(FromHex(e.at("input").as_string())).c_str(), detail.c_str());
    }
  };

  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json::object e = json::parse(line).as_object();
    ++strings;
    size_t problems = 0;
    const auto check_text = [&](std::string_view what, const brix::Result<std::string>& got,
                                std::string_view want) {
      if (!got) {
        ++problems;
        fail(e, what, "error: " + got.error().ToString());
      } else if (*got != want) {
        ++problems;
        fail(e, what, fmt::format("want \"{}\"\n  got  \"{}\"", Escape(want), Escape(*got)));
      }
    };

    const std::string input = FromHex(e.at("input").as_string());
    const std::vector<TokenId> want = ToIds(e.at("ids"));
    auto got = tok.Encode(input);
    if (!got) {
      ++problems;
      fail(e, "encode", "error: " + got.error().ToString());
    } else if (*got != want) {
      ++problems;
      size_t at = 0;
      while (at < want.size() && at < got->size() && want[at] == (*got)[at]) ++at;
      fail(e, "encode",
           fmt::format(
               "first difference at index {} of {} (want) / {} (got)\n  want: {}\n  got:  {}", at,
               want.size(), got->size(), IdsAround(tok, want, at), IdsAround(tok, *got, at)));
    }
    auto count = tok.CountTokens(input);
    if (!count || *count != want.size()) {
      ++problems;
      fail(e, "count", fmt::format("want {} got {}", want.size(), count ? *count : 0));
    }
    check_text("decode", tok.Decode(want), e.at("decoded").as_string());
    check_text("decode skip_special_tokens", tok.Decode(want, {.skip_special_tokens = true}),
               e.at("decoded_skip").as_string());
    check_text("decode clean_up_tokenization_spaces",
               tok.Decode(want, {.clean_up_tokenization_spaces = true}),
               e.at("decoded_clean").as_string());
    if (const json::value* random = e.if_contains("random_ids")) {
      check_text("decode random ids", tok.Decode(ToIds(*random)),
                 e.at("random_decoded").as_string());
    }

    // Conversations of consecutive corpus strings must serialise to token prefixes of each other
    // wherever every turn ends in a marker (not true of the plain format; see chat.h).
    if (brix::tokenizer::DetectChatFormat(tok) != brix::tokenizer::ChatFormat::kPlain) {
      static constexpr std::string_view kRoles[] = {"system", "user", "assistant", "user"};
      conversation.push_back({std::string(kRoles[conversation.size() % 4]), input});
      if (conversation.size() == 4) {
        auto full = brix::tokenizer::EncodeChat(tok, conversation, false);
        for (size_t k = 1; full && k < conversation.size(); ++k) {
          auto head = brix::tokenizer::EncodeChat(tok, std::span(conversation).first(k), false);
          if (!head || head->size() > full->size() ||
              !std::equal(head->begin(), head->end(), full->begin())) {
            ++problems;
            fail(e, "chat prefix", fmt::format("turns 0..{} are not a token prefix", k));
          }
        }
        conversation.clear();
      }
    }
    if (problems > 0) ++failed;
  }
  std::printf("%s: loaded in %.0f ms (%zu ids); %zu strings compared\n", options.name.c_str(),
              load_ms, tok.vocab_size(), strings);
  std::printf("%s: %zu passed, %zu failed\n", options.name.c_str(), strings - failed, failed);
  return failed == 0 && strings > 0 ? 0 : 1;
}
