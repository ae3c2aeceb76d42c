// How subcommands join a pipekit executable.
//
// Each cli/*_command.cpp (and cli/train/*_command.cpp) defines one subcommand
// and registers it with a static CommandRegistration; run_app() adds every
// registered command to the CLI11 app in `order`, parses, and turns errors
// into one line and an exit status: InputError (bad input) 2, anything else 1.
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

// The one main(): `app` with every registered command, parsed from argv.
int run_app(CLI::App& app, int argc, char** argv);

// The header line of `pipekit --help`, shared by both executables.
extern const char* const kAppDescription;
extern const char* const kVersion;

}  // namespace pipekit::cli
