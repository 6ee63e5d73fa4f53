// The top-level Brix config file: one YAML document whose top-level keys are the sections of
// the components (`log`, `server`, and more as components arrive). `brix validate-config` and every
// subcommand that takes `--config` load it through LoadBrixConfig.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/logging.h"
#include "net/server.h"

namespace brix::cmd {

struct BrixConfig {
  // Logging for every component in the process.
  base::LogOptions log;
  // The process's HTTP listener (net/server_config.h); flags such as --port override it.
  net::ServerConfig server;
};

// Parses YAML text; on error returns InvalidArgument listing every problem, one per line, each
// with "<source>:<line>:<column>: <yaml.path>: <message>".
Result<BrixConfig> ParseBrixConfig(std::string_view yaml, std::string_view source);

// Reads and parses a file.
Result<BrixConfig> LoadBrixConfig(const std::string& path);

}  // namespace brix::cmd
