#include <fmt/core.h>

#include <memory>

#include "cmd/brix_config.h"
#include "cmd/commands.h"

namespace brix::cmd {

Command AddValidateConfigCommand(CLI::App& root) {
  auto* app = root.add_subcommand(
      "validate-config", "Check a Brix config file; print every error with its line and path");
  auto path = std::make_shared<std::string>();
  app->add_option("file", *path, "YAML config file")->required();
  return {app, [path] {
            auto cfg = LoadBrixConfig(*path);
            if (!cfg) {
              fmt::print(stderr, "{}\n", cfg.error().message);
              return kExitFailure;
            }
            fmt::print("{}: ok\n", *path);
            return kExitOk;
          }};
}

}  // namespace brix::cmd
