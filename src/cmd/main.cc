// brix: one binary, many subcommands. This file only dispatches.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <string_view>
#include <vector>

#include "cmd/commands.h"

int main(int argc, char** argv) {
  using namespace brix::cmd;
  CLI::App root("Brix: a control plane and data plane for LLM inference", "brix");
  root.require_subcommand(1);
  root.failure_message(CLI::FailureMessage::help);

  std::vector<Command> commands = {
      AddVersionCommand(root), AddValidateConfigCommand(root), AddSimCommand(root),
      AddGatewayCommand(root), AddBenchCommand(root),          AddTenantCommand(root),
      AddUpCommand(root),
  };
  for (Command& c : AddControlCommands(root)) commands.push_back(std::move(c));
  auto* help = root.add_subcommand("help", "Show the subcommands, or one's flags: brix help CMD");
  std::string help_topic;
  help->add_option("command", help_topic, "subcommand to describe");

  // CLI11 would report an unknown subcommand as a missing one; name it instead.
  auto known = [&](std::string_view name) {
    for (auto* sub : root.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == name) return true;
    }
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    fmt::print(stderr, "brix: unknown command '{}'; see 'brix help'\n", argv[1]);
    return kExitUsage;
  }
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (help->parsed()) {
    if (help_topic.empty()) {
      // root.help() would describe the chosen subcommand (`help` itself); describe the root.
      fmt::print("{}", root.get_formatter()->make_help(&root, "brix", CLI::AppFormatMode::Normal));
      return kExitOk;
    }
    for (const auto& c : commands) {
      if (c.app->get_name() == help_topic) {
        fmt::print("{}", c.app->help("brix"));
        return kExitOk;
      }
    }
    fmt::print(stderr, "brix: unknown command '{}'; see 'brix help'\n", help_topic);
    return kExitUsage;
  }
  for (const auto& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return kExitUsage;
}
