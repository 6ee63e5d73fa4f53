// The top-level Brix config file: one YAML document whose top-level keys are the sections of
// the components (`log`, and more as components arrive). `brix validate-config` and every
// subcommand that takes `--config` load it through LoadBrixConfig.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/logging.h"

namespace brix::cmd {

struct BrixConfig {
  // Logging for every component in the process.
  base::LogOptions log;
};

// Parses YAML text; on error returns InvalidArgument listing every problem, one per line, each
// with "<source>:<line>:<column>: <yaml.path>: <message>".
Result<BrixConfig> ParseBrixConfig(std::string_view yaml, std::string_view source);

// Reads and parses a file.
Result<BrixConfig> LoadBrixConfig(const std::string& path);

}  // namespace brix::cmd
