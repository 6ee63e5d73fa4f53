// Editing one member of a JSON object in its text, for the gateway's request rewrites (not
// included from outside the openai component).
//
// A document parse and re-serialize would change what the client wrote: Boost.JSON 1.81 reads
// many 17-digit doubles an ulp or two off and writes doubles in its own notation, reads 1e999 as
// infinity and 0e999 as NaN and writes them as Infinity / NaN (not JSON), and re-escapes strings.
// Instead, ReadTopLevelObject() validates the text and finds the byte ranges of the top-level
// members, ScanMembers() those of a nested object, and AppendEdited() copies every member it does
// not edit byte for byte.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::openai::internal {

// One member of an object, as views into the object's text.
struct JsonMember {
  std::string_view key;    // the key's text between its quotes, escapes as written
  std::string_view text;   // from the key's opening quote to the end of the value
  std::string_view value;  // the value's text
};

// A document's top-level object.
struct TopLevelObject {
  size_t begin = 0;                 // the document's text[begin] is the object's '{'
  size_t end = 0;                   // ... and text[end - 1] its '}'
  std::vector<JsonMember> members;  // in order, repeated keys included
};

// The top-level object of `text` when it is a JSON document whose value is an object, as
// boost::json::parse reads JSON (strict, valid UTF-8, surrounding whitespace allowed) with
// nesting at most `max_depth`; else nullopt. Builds no document: a hand-written validating scan
// reads the common case at several bytes a cycle and finds the members as it goes; what it is not
// sure of, Boost.JSON's parser validates (with a handler that keeps nothing).
std::optional<TopLevelObject> ReadTopLevelObject(std::string_view text, size_t max_depth);

// The members of `object`, the text of one object from its '{' to its '}' in a validated
// document (a member's value that is an object), in order, repeated keys included. A byte scan that
// trusts the text to be valid JSON: on other text it returns nullopt or members that mean nothing,
// but never reads outside `object` and takes linear time.
std::optional<std::vector<JsonMember>> ScanMembers(std::string_view object);

// Whether a member's raw key (escapes as written) names `name`. A key with escapes is decoded by
// Boost.JSON; keys without are compared as they are.
bool KeyIs(std::string_view key, std::string_view name);

struct MemberEdit {
  std::string_view key;    // the decoded name; written as it is, so it must need no escaping
  std::string_view value;  // the JSON text of the value to write
};

// Appends the object `members` were scanned from with, for each edit, every member named its key
// removed and one `"key":value` written in place of the last of them (at the end when there was
// none). The members kept are copied byte for byte; the space and commas between members come
// out as single commas.
void AppendEdited(std::span<const JsonMember> members, std::span<const MemberEdit> edits,
                  std::string* out);

}  // namespace brix::openai::internal
