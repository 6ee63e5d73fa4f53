// The `server:` section of a config file: how a Brix process listens for HTTP.
//
//   server:
//     address: 0.0.0.0
//     port: 8000
//     workers: 4
//     share_port: false      # true: other processes may listen on this port too (SO_REUSEPORT)
//     max_header_size: 16KiB
//     max_body_size: 16MiB
//     header_timeout: 10s
//     body_timeout: 60s
//     idle_timeout: 60s
//     send_timeout: 30s
//     linger_timeout: 2s
//     max_connections: 10000
//     drain_timeout: 30s
//
// Every key is optional (absent keys keep ServerConfig's defaults); unknown keys are errors.
#pragma once

#include "config/reader.h"
#include "net/server.h"

namespace brix::net {

// Reads one `server:` mapping into `out`, reporting problems to the reader's diagnostics, and
// calls r.Finish().
void ReadServerConfig(config::MapReader& r, ServerConfig* out);

}  // namespace brix::net
