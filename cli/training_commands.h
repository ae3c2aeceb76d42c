// The commands that train or measure with LibTorch (run, profile, corun). They
// live in a second executable, pipekit-train (cli/train/), built only with
// LibTorch; `pipekit` lists them in its help and hands the whole command line
// over to pipekit-train when one is asked for, so that the planning commands
// never load LibTorch (docs/architecture.md says why).
#pragma once

#include <string_view>

namespace pipekit::cli {

struct TrainingCommand {
  std::string_view name;
  int order;  // place in --help, among the other commands
  const char* description;
};

inline constexpr TrainingCommand kTrainingCommands[] = {
    {"run", 60, "Train a model with a pipeline schedule, one process per rank (LibTorch + Gloo)"},
    {"profile", 62, "Measure per-layer forward/backward time and memory of a model (LibTorch)"},
    {"corun", 63, "Measure how much compute ranks sharing this machine's CPU or GPU get at once"},
};

inline const TrainingCommand* find_training_command(std::string_view name) {
  for (const auto& c : kTrainingCommands)
    if (c.name == name) return &c;
  return nullptr;
}

// The file name of the training executable, beside `pipekit`.
inline constexpr const char* kTrainExecutable = "pipekit-train";

}  // namespace pipekit::cli
