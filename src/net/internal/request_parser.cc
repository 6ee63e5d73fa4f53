#include "net/internal/request_parser.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>

#include "base/check.h"

namespace brix::net::internal {

namespace http = boost::beast::http;

namespace {

// Whether the request line at the front of `buffer` (which Beast rejected for its version) ends
// in a syntactically valid "HTTP/<digit>.<digit>": then the version is unsupported (505) rather
// than the line malformed (400).
bool IsWellFormedVersion(const boost::beast::flat_buffer& buffer) {
  const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
  const std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  const std::string_view version = line.substr(line.rfind(' ') + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return version.size() == 8 && version.starts_with("HTTP/") && digit(version[5]) &&
         version[6] == '.' && digit(version[7]);
}

}  // namespace

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {}

void RequestParser::Start() {
  parser_.emplace();
  // Beast's header_limit is 32 bits; anything larger means "no practical limit".
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(limits_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
  error_status_ = 0;
  error_message_.clear();
}

ParseStatus RequestParser::Parse(boost::beast::flat_buffer& buffer) {
  BRIX_CHECK(parser_.has_value()) << "Parse() before Start()";
  BRIX_CHECK(error_status_ == 0) << "Parse() after an error";
  while (!parser_->is_done()) {
    if (buffer.size() == 0) return ParseStatus::kNeedMore;
    boost::system::error_code ec;
    const size_t used = parser_->put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) return ParseStatus::kNeedMore;
    if (ec == http::error::header_limit) {
      return Fail(431,
                  "request header exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    if (ec == http::error::bad_version && IsWellFormedVersion(buffer)) {
      return Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
    }
    if (ec == http::error::body_limit) {
      return Fail(413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
    if (ec) return Fail(400, "malformed request: " + ec.message());
    // Beast stops after the header (it is not eager); loop to parse body bytes already here.
  }
  return Validate();
}

ParseStatus RequestParser::Validate() {
  const Request& request = parser_->get();
  const unsigned version = request.version();
  if (version != 10 && version != 11) {
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  }
  const size_t hosts = request.count(http::field::host);
  if (hosts > 1) return Fail(400, "malformed request: more than one Host header");
  if (version == 11 && hosts == 0) return Fail(400, "malformed request: missing Host header");
  return ParseStatus::kComplete;
}

bool RequestParser::header_done() const { return parser_ && parser_->is_header_done(); }

bool RequestParser::expects_continue() const {
  if (!header_done()) return false;
  const Request& request = parser_->get();
  if (request.version() < 11) return false;
  const auto expect = request.find(http::field::expect);
  return expect != request.end() && boost::beast::iequals(expect->value(), "100-continue");
}

Request RequestParser::Release() {
  BRIX_CHECK(parser_ && parser_->is_done() && error_status_ == 0) << "no complete request";
  Request request = parser_->release();
  parser_.reset();
  return request;
}

ParseStatus RequestParser::Fail(unsigned status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return ParseStatus::kError;
}

}  // namespace brix::net::internal
