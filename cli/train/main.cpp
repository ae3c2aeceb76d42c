// `pipekit-train`: the training commands (run, profile, corun), with LibTorch.
// Users type `pipekit run ...`; pipekit hands the command line over to this
// executable (cli/training_commands.h). It can also be called directly.
#include "cli/command.h"

int main(int argc, char** argv) {
  CLI::App app{pipekit::cli::kAppDescription};
  return pipekit::cli::run_app(app, argc, argv);
}
