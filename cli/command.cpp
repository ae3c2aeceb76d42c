#include "cli/command.h"

#include <cstdio>
#include <map>
#include <string>

#include "core/error.h"

namespace pipekit::cli {
namespace {
std::multimap<int, CommandAdder>& registry() {
  static std::multimap<int, CommandAdder> r;
  return r;
}
}  // namespace

const char* const kAppDescription =
    "pipekit: profile a model, plan its pipeline split and schedule, simulate it, run it, "
    "and look at predicted and measured timelines.";
const char* const kVersion = "pipekit 0.1.0";

CommandRegistration::CommandRegistration(int order, CommandAdder add) {
  registry().emplace(order, std::move(add));
}

void add_registered_commands(CLI::App& app) {
  for (auto& [order, add] : registry()) add(app);
}

int& exit_status() {
  static int status = 0;
  return status;
}

// A TorchScript interpreter error is a long traceback: keep what comes
// before it and the line that says what went wrong.
static std::string without_script_traceback(const std::string& what) {
  const std::string line = script_error_line(what);
  if (line.empty()) return what;
  return what.substr(0, what.find("The following operation failed")) + "a TorchScript layer failed: " + line;
}

int run_app(CLI::App& app, int argc, char** argv) {
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  add_registered_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const pipekit::InputError& e) {
    std::fprintf(stderr, "pipekit: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipekit: error: %s\n", without_script_traceback(e.what()).c_str());
    return 1;
  }
  return exit_status();
}

}  // namespace pipekit::cli
