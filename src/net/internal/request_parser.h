// RequestParser: the server's request-parsing step, separated from the socket so that the fuzzer
// and the benchmarks drive exactly what the server runs.
//
// It wraps Beast's request parser with the server's limits and the checks Beast leaves to the
// application (Host header, HTTP version), and turns failures into the status to answer with.
// Owned by one ServerConnection (or a test); single-threaded.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "net/http.h"

namespace brix::net::internal {

struct RequestLimits {
  size_t max_header_bytes = 16 * 1024;  // request line + fields + final CRLF; more -> 431
  size_t max_body_bytes = 16 << 20;     // decoded body; more -> 413
};

enum class ParseStatus {
  kNeedMore,  // the request is incomplete; read more bytes into the buffer and call Parse again
  kComplete,  // a whole request was parsed; take it with Release()
  kError,     // the bytes are not an acceptable request; answer error_status() and close
};

class RequestParser {
 public:
  explicit RequestParser(RequestLimits limits);

  // Starts a new request, dropping any previous one.
  void Start();

  // Parses bytes from the front of `buffer`, consuming those that belong to the request (bytes
  // of a pipelined next request stay in `buffer`). Start() must have been called.
  ParseStatus Parse(boost::beast::flat_buffer& buffer);

  // Whether the request line and all header fields have been parsed.
  bool header_done() const;
  // After header_done(): the request is HTTP/1.1 and carries "Expect: 100-continue".
  bool expects_continue() const;

  // After kError: the status to answer with (400, 413, 431 or 505) and a short reason.
  unsigned error_status() const { return error_status_; }
  std::string_view error_message() const { return error_message_; }

  // After kComplete: moves the request out. Start() must be called before parsing again.
  Request Release();

 private:
  ParseStatus Fail(unsigned status, std::string message);
  // Checks Beast does not make, run once the request is complete.
  ParseStatus Validate();

  const RequestLimits limits_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  unsigned error_status_ = 0;
  std::string error_message_;
};

}  // namespace brix::net::internal
