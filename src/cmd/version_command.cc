#include <fmt/core.h>

#include "base/version.h"
#include "cmd/commands.h"

namespace brix::cmd {

Command AddVersionCommand(CLI::App& root) {
  auto* app = root.add_subcommand("version", "Print the version, commit and build of this binary");
  return {app, [] {
            fmt::print("brix {} (commit {}, {} build, {})\n", base::kVersion, base::kGitCommit,
                       base::kBuildType, base::kCompiler);
            return kExitOk;
          }};
}

}  // namespace brix::cmd
