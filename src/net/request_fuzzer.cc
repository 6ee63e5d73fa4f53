// Fuzzes the server's request parsing (internal::RequestParser, exactly what ServerConnection
// runs, with small limits so that the limit paths are reached) and the SSE parser.
//
// Input layout: byte 0 picks the size of the pieces the rest is fed in, as network reads would
// split it. Properties checked beyond "no crash": the request parser makes progress on every
// piece, and the SSE parser returns the same events whether fed piecewise or at once.
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "net/internal/request_parser.h"
#include "net/sse.h"

namespace {

using brix::net::SseParser;
using brix::net::internal::ParseStatus;
using brix::net::internal::RequestParser;

void FuzzRequests(std::string_view input, size_t piece) {
  RequestParser parser({.max_header_bytes = 1024, .max_body_bytes = 4096});
  boost::beast::flat_buffer buffer;
  parser.Start();
  for (size_t offset = 0; offset < input.size(); offset += piece) {
    const std::string_view bytes = input.substr(offset, piece);
    auto space = buffer.prepare(bytes.size());
    boost::asio::buffer_copy(space, boost::asio::buffer(bytes.data(), bytes.size()));
    buffer.commit(bytes.size());
    // Drain every complete (pipelined) request in the buffer, as the server does.
    while (true) {
      const size_t before = buffer.size();
      const ParseStatus status = parser.Parse(buffer);
      if (status == ParseStatus::kError) {
        BRIX_CHECK(parser.error_status() >= 400 && parser.error_status() < 600);
        return;  // the server answers and closes
      }
      if (status == ParseStatus::kNeedMore) break;
      const brix::net::Request request = parser.Release();
      BRIX_CHECK(request.body().size() <= 4096);
      parser.Start();
      // A complete request consumes at least its request line.
      BRIX_CHECK(buffer.size() < before);
    }
  }
}

std::vector<std::string> SseEvents(std::string_view input, size_t piece) {
  SseParser parser;
  std::vector<std::string> events;
  for (size_t offset = 0; offset < input.size(); offset += piece) {
    parser.Feed(input.substr(offset, piece));
    while (true) {
      auto next = parser.Next();
      BRIX_CHECK(next.has_value()) << "the default limit exceeds the fuzzer's input size";
      if (!*next) break;
      const auto& event = **next;
      events.push_back(std::string(event.type) + '\0' + std::string(event.data) + '\0' +
                       std::string(event.id));
    }
  }
  return events;
}

void FuzzSse(std::string_view input, size_t piece) {
  BRIX_CHECK(SseEvents(input, piece) == SseEvents(input, input.size() + 1))
      << "events depend on how the stream was split";
  // A small limit exercises the error paths.
  SseParser small(32);
  for (size_t offset = 0; offset < input.size(); offset += piece) {
    small.Feed(input.substr(offset, piece));
    while (true) {
      auto next = small.Next();
      if (!next || !*next) break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = static_cast<size_t>(data[0] % 64) + 1;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  FuzzRequests(input, piece);
  FuzzSse(input, piece);
  return 0;
}
