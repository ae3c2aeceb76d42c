#include "checkpoint/checkpoint_check.h"

#include <fmt/format.h>

#include <filesystem>

#include "checkpoint/catalog.h"
#include "checkpoint/file_digest.h"
#include "core/error.h"
#include "core/formats.h"

namespace pipekit {
namespace fs = std::filesystem;

std::string to_string(CheckpointState s) {
  switch (s) {
    case CheckpointState::intact:
      return "intact";
    case CheckpointState::damaged:
      return "damaged";
    case CheckpointState::incomplete:
      return "incomplete";
  }
  return "?";
}

std::string CheckpointCheck::summary() const {
  if (problems.empty()) return to_string(state);
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p;
  return out;
}

CheckpointCheck check_checkpoint(const std::string& dir, CheckDepth depth) {
  CheckpointCheck c;
  c.dir = dir;
  c.step = checkpoint_step_of(dir).value_or(0);
  const std::string mpath = manifest_path(dir);
  std::error_code ec;
  if (!fs::exists(mpath, ec)) {
    c.state = CheckpointState::incomplete;
    c.problems.push_back("no manifest.json: its write was interrupted before it completed");
    return c;
  }
  c.state = CheckpointState::damaged;
  try {
    c.manifest = manifest_from_json(read_text_file(mpath), mpath);
  } catch (const InputError& e) {
    c.problems.push_back(fmt::format("manifest.json: {}", e.problem()));
    return c;
  }
  const CheckpointManifest& m = *c.manifest;
  if (c.step != 0 && m.step != c.step)
    c.problems.push_back(fmt::format(
        "manifest.json says step {}, but the directory is step-{} (moved or copied over?)", m.step, c.step));
  for (const CheckpointFile& f : m.files) {
    c.bytes += f.bytes;
    const std::string path = dir + "/" + f.name;
    if (!fs::is_regular_file(path, ec)) {
      c.problems.push_back(fmt::format("{} is missing", f.name));
      continue;
    }
    const auto size = static_cast<std::int64_t>(fs::file_size(path, ec));
    if (ec) {
      c.problems.push_back(fmt::format("{}: cannot read its size: {}", f.name, ec.message()));
      continue;
    }
    if (size != f.bytes) {
      c.problems.push_back(fmt::format("{} has {} bytes, the manifest says {} ({})", f.name, size, f.bytes,
                                       size < f.bytes ? "cut short" : "grown"));
      continue;
    }
    if (depth == CheckDepth::sizes) continue;
    const FileDigest d = digest_file(path);
    if (!d.error.empty())
      c.problems.push_back(fmt::format("{}: cannot read it: {}", f.name, d.error));
    else if (d.bytes != f.bytes)
      c.problems.push_back(fmt::format("{} has {} bytes, the manifest says {} (it changed while read)",
                                       f.name, d.bytes, f.bytes));
    else if (d.xxh3 != f.xxh3)
      c.problems.push_back(
          fmt::format("{}: XXH3-64 {}, the manifest says {} (its bytes changed)", f.name, d.xxh3, f.xxh3));
  }
  if (c.problems.empty()) c.state = CheckpointState::intact;
  return c;
}

}  // namespace pipekit
