#include "checkpoint/commit.h"

#include <fmt/format.h>

#include <filesystem>

#include "checkpoint/catalog.h"
#include "checkpoint/checkpoint_check.h"
#include "checkpoint/durable_file.h"
#include "checkpoint/retention.h"
#include "core/error.h"

namespace pipekit {
namespace fs = std::filesystem;

void begin_checkpoint(const std::string& root, int step) {
  const std::string dir = checkpoint_path(root, step);
  std::error_code ec;
  if (fs::remove(manifest_path(dir), ec)) sync_directory(dir);
  if (ec)
    throw InputError(
        manifest_path(dir), "",
        "cannot remove this manifest of an earlier run before writing the checkpoint again: " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir, "", "cannot create this checkpoint directory: " + ec.message());
}

CommitResult commit_checkpoint(const std::string& root, const CheckpointManifest& m, int keep,
                               const WriteHook& at) {
  CommitResult r;
  r.dir = checkpoint_path(root, m.step);
  if (at) at(WritePoint::before_manifest);
  write_file_durably(manifest_path(r.dir), manifest_to_json(m), at, WritePoint::mid_manifest);
  const CheckpointCheck check = check_checkpoint(r.dir, CheckDepth::checksums);
  if (!check.intact())
    throw InputError(
        r.dir, "",
        fmt::format("the checkpoint just written does not match its manifest on disk: {}; the run "
                    "stops here, and {}/latest still names the previous checkpoint",
                    check.summary(), root));
  r.bytes = check.bytes;
  if (at) at(WritePoint::before_latest);
  write_latest(root, m.step);
  r.deleted = apply_retention(root, m.step, keep);
  return r;
}

}  // namespace pipekit
