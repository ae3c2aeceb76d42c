// Points in writing a checkpoint where a test can stop a rank (SIGKILL), to
// check that no interruption leaves a checkpoint that looks complete. The
// writers call the hook they are given at each point; a run passes none unless
// a test asked for one (executor/fault_injection.h parses which).
#pragma once

#include <functional>
#include <string>

namespace pipekit {

enum class WritePoint {
  none,
  mid_file,         // part of a stage file's bytes written (under its temporary name)
  after_file,       // a stage file renamed into place, before the rank's next file or report
  before_manifest,  // rank 0: every rank's files in place, no manifest yet
  mid_manifest,     // rank 0: half of the manifest written (under its temporary name)
  before_latest,    // rank 0: the manifest in place, `latest` not yet advanced
};

using WriteHook = std::function<void(WritePoint)>;

// "mid-file", "after-file", "before-manifest", "mid-manifest", "before-latest".
std::string to_string(WritePoint p);
// False for a name that is none of those.
bool write_point_from_string(const std::string& name, WritePoint& out);

}  // namespace pipekit
