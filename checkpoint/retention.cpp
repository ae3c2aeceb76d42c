#include "checkpoint/retention.h"

#include <filesystem>

#include "checkpoint/catalog.h"
#include "checkpoint/durable_file.h"
#include "core/error.h"

namespace pipekit {
namespace fs = std::filesystem;

std::vector<std::string> apply_retention(const std::string& root, int newest, int keep) {
  std::vector<std::string> deleted;
  if (keep <= 0) return deleted;
  int kept = 0;
  std::error_code ec;
  for (const CheckpointEntry& e : list_checkpoints(root)) {  // newest first
    if (e.step > newest) continue;
    const bool complete = fs::exists(manifest_path(e.dir), ec);
    if (complete && kept < keep) {
      ++kept;
      continue;
    }
    if (e.step == newest) continue;  // being written by this run: not ours to delete
    if (complete) {
      fs::remove(manifest_path(e.dir), ec);
      if (ec)
        throw InputError(e.dir, "",
                         "cannot delete this old checkpoint (--keep-checkpoints): " + ec.message());
      sync_directory(e.dir);
    }
    fs::remove_all(e.dir, ec);
    if (ec)
      throw InputError(e.dir, "", "cannot delete this old checkpoint (--keep-checkpoints): " + ec.message());
    deleted.insert(deleted.begin(), e.dir);
  }
  sync_directory(root);
  return deleted;
}

}  // namespace pipekit
