// `pipekit`: the planning commands (inspect, convert, plan, simulate, viz) run
// in this executable, which links no LibTorch and starts in milliseconds. The
// training commands (run, profile, corun) are listed in its help and handed
// over whole to pipekit-train beside it (cli/training_commands.h).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/training_commands.h"

#ifndef PIPEKIT_TRAIN_BUILT
#define PIPEKIT_TRAIN_BUILT 0
#endif

namespace pipekit::cli {
namespace {

std::filesystem::path train_executable() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : self.parent_path()) / kTrainExecutable;
}

// Replaces this process with pipekit-train, same arguments; returns only on failure.
int hand_over(int argc, char** argv) {
  const std::string name = argv[1];
  if (!PIPEKIT_TRAIN_BUILT) {
    std::fprintf(
        stderr,
        "pipekit: error: %s: this pipekit was built without LibTorch, so the training commands (run, "
        "profile, corun) are not part of it; install LibTorch (scripts/install-deps.sh: libtorch-dev "
        "libgloo-dev) and rebuild\n",
        name.c_str());
    return 2;
  }
  const std::string path = train_executable().string();
  std::vector<char*> args(argv, argv + argc);
  args[0] = const_cast<char*>(path.c_str());
  args.push_back(nullptr);
  execv(path.c_str(), args.data());
  std::fprintf(stderr,
               "pipekit: error: %s: cannot start the training part %s (%s); rebuild or reinstall pipekit\n",
               name.c_str(), path.c_str(), std::strerror(errno));
  return 2;
}

// The training commands in `pipekit --help`, in their places; they never run here.
void list_training_commands() {
  for (const auto& c : kTrainingCommands) {
    std::string what = c.description;
    if (!PIPEKIT_TRAIN_BUILT) what += " [not built: needs LibTorch]";
    CommandRegistration(c.order, [name = std::string(c.name), what](CLI::App& app) {
      app.add_subcommand(name, what)->allow_extras()->prefix_command();
    });
  }
}

}  // namespace
}  // namespace pipekit::cli

int main(int argc, char** argv) {
  using namespace pipekit::cli;
  if (argc > 1 && find_training_command(argv[1])) return hand_over(argc, argv);
  list_training_commands();
  CLI::App app{kAppDescription};
  return run_app(app, argc, argv);
}
