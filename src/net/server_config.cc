#include "net/server_config.h"

#include <boost/asio/ip/address.hpp>
#include <chrono>

namespace brix::net {

void ReadServerConfig(config::MapReader& r, ServerConfig* out) {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  r.Read("address", &out->address);
  boost::system::error_code ec;
  boost::asio::ip::make_address(out->address, ec);
  if (ec) r.Fail("address", "must be an IPv4 or IPv6 address literal, e.g. 127.0.0.1 or ::");
  r.Read("port", &out->port);
  r.Read("workers", &out->workers, 1, 256);
  r.Read("share_port", &out->share_port);
  uint64_t size = out->max_header_bytes;
  r.ReadSize("max_header_size", &size, 1024, 1 << 20);
  out->max_header_bytes = size;
  size = out->max_body_bytes;
  r.ReadSize("max_body_size", &size, 0, uint64_t{1} << 32);
  out->max_body_bytes = size;
  r.ReadDuration("header_timeout", &out->header_timeout, milliseconds(1), hours(1));
  r.ReadDuration("body_timeout", &out->body_timeout, milliseconds(1), hours(1));
  r.ReadDuration("idle_timeout", &out->idle_timeout, milliseconds(1), hours(24));
  r.ReadDuration("send_timeout", &out->send_timeout, milliseconds(1), hours(1));
  r.ReadDuration("linger_timeout", &out->linger_timeout, milliseconds(0), std::chrono::minutes(1));
  r.Read("max_connections", &out->max_connections, size_t{1}, size_t{10'000'000});
  r.ReadDuration("drain_timeout", &out->drain_timeout, milliseconds(0), hours(1));
  r.Finish();
}

}  // namespace brix::net
