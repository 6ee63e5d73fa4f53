// The subcommands of the `brix` binary. Each registers its flags on a CLI11 app and returns the
// process exit code when run. Commands hold no logic of their own: flags -> config -> wiring.
#pragma once

#include <signal.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <string_view>
#include <vector>

namespace brix::cmd {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (bad config, ...)
inline constexpr int kExitUsage = 2;    // bad flags or arguments

// A registered subcommand: `run` is called after parsing when the subcommand was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Raises the soft open-file limit to the hard one (as nginx's worker_rlimit_nofile): servers
// holding thousands of streams need two descriptors per proxied stream.
void RaiseOpenFileLimit();

// SIGINT and SIGTERM for a serving command: constructed before the command starts any thread
// (the threads inherit the mask, so the signals reach Wait() and not a random thread); Wait()
// blocks until one arrives and prints "brix <command>: SIGTERM received, draining".
class ShutdownSignals {
 public:
  ShutdownSignals();
  void Wait(std::string_view command);

 private:
  sigset_t set_;
};

Command AddVersionCommand(CLI::App& root);
Command AddValidateConfigCommand(CLI::App& root);
Command AddSimCommand(CLI::App& root);
Command AddGatewayCommand(CLI::App& root);
Command AddBenchCommand(CLI::App& root);
Command AddTenantCommand(CLI::App& root);
Command AddUpCommand(CLI::App& root);
// apply, get, delete, describe
std::vector<Command> AddControlCommands(CLI::App& root);

}  // namespace brix::cmd
