// What a checkpoint directory (`--checkpoint-dir D`) holds:
//   D/step-K/       one checkpoint after K steps (asynchronous streams: K
//                   minibatches); complete when D/step-K/manifest.json exists
//   D/latest        the step of the newest checkpoint that was complete and
//                   verified when it was written (advanced only then)
// Anything else in D is not pipekit's and is left alone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checkpoint/write_point.h"

namespace pipekit {

// D/step-K
std::string checkpoint_path(const std::string& root, int step);
// <checkpoint>/manifest.json
std::string manifest_path(const std::string& checkpoint);
// K of a directory named step-K (K >= 1), or nullopt.
std::optional<int> checkpoint_step_of(const std::string& dir);

struct CheckpointEntry {
  int step = 0;
  std::string dir;  // D/step-K
};
// The step-K directories of `root`, newest (highest K) first. Throws
// InputError when `root` is not a readable directory.
std::vector<CheckpointEntry> list_checkpoints(const std::string& root);

// D/latest's step; nullopt when it is missing or does not hold a step.
std::optional<int> read_latest(const std::string& root);
// Rewrites D/latest durably (durable_file.h).
void write_latest(const std::string& root, int step, const WriteHook& at = {});

}  // namespace pipekit
