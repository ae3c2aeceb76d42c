// Verifying one checkpoint against its manifest, without LibTorch: the
// manifest is read, and every file it lists must be there with its size and
// (CheckDepth::checksums) its XXH3-64. What `--resume` runs before any rank
// starts, what rank 0 runs after writing a checkpoint, and what `pipekit
// checkpoint verify` and `list` print.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checkpoint/manifest.h"

namespace pipekit {

enum class CheckpointState {
  intact,      // the manifest and every file it lists, as it lists them
  damaged,     // the manifest is unreadable, or a file is missing or differs
  incomplete,  // no manifest: its write was interrupted (or is under way)
};
std::string to_string(CheckpointState s);

enum class CheckDepth {
  sizes,      // files present with their sizes (reads no data)
  checksums,  // and every byte read back and digested
};

struct CheckpointCheck {
  std::string dir;
  int step = 0;  // from the directory's name (0 when it is not step-K)
  CheckpointState state = CheckpointState::incomplete;
  std::optional<CheckpointManifest> manifest;  // when it could be read
  // One line per problem, each naming the file: "stage1.pt has 512 bytes,
  // the manifest says 1024 (cut short)".
  std::vector<std::string> problems;
  std::int64_t bytes = 0;  // the files' sizes, as the manifest lists them

  bool intact() const { return state == CheckpointState::intact; }
  // The problems in one line ("; "-separated), or "intact".
  std::string summary() const;
};

CheckpointCheck check_checkpoint(const std::string& dir, CheckDepth depth = CheckDepth::checksums);

}  // namespace pipekit
