// How subcommands join the `pipekit` command.
//
// Each cli/*_command.cpp defines one subcommand and registers it with a static
// CommandRegistration; main() adds every registered command to the CLI11 app in
// `order`. A command's callback throws InputError for bad input (exit 2).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace pipekit::cli {

using CommandAdder = std::function<void(CLI::App& app)>;

struct CommandRegistration {
  CommandRegistration(int order, CommandAdder add);
};

void add_registered_commands(CLI::App& app);

// Exit status of the subcommand that ran (set by callbacks that fail softly,
// e.g. a verification that found differences). 0 by default.
int& exit_status();

}  // namespace pipekit::cli
