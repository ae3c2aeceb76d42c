#include "checkpoint/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "checkpoint/durable_file.h"
#include "core/error.h"

namespace pipekit {
namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& root, int step) {
  return fmt::format("{}/step-{}", root, step);
}

std::string manifest_path(const std::string& checkpoint) {
  return checkpoint + "/manifest.json";
}

std::optional<int> checkpoint_step_of(const std::string& dir) {
  std::string name = fs::path(dir).filename().string();
  if (name.empty()) name = fs::path(dir).parent_path().filename().string();  // "D/step-3/"
  const std::string prefix = "step-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 9 || digits[0] == '0' ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoi(digits);
}

std::vector<CheckpointEntry> list_checkpoints(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw InputError(root, "", fs::exists(root, ec) ? "is not a directory" : "no such directory");
  std::vector<CheckpointEntry> out;
  fs::directory_iterator it(root, ec), end;
  if (ec) throw InputError(root, "", "cannot list this directory: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw InputError(root, "", "cannot list this directory: " + ec.message());
    if (!it->is_directory(ec)) continue;
    if (auto step = checkpoint_step_of(it->path().string()))
      out.push_back({*step, checkpoint_path(root, *step)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step > b.step; });
  return out;
}

std::optional<int> read_latest(const std::string& root) {
  std::ifstream in(root + "/latest");
  int step = 0;
  if (!(in >> step) || step < 1) return std::nullopt;
  return step;
}

void write_latest(const std::string& root, int step, const WriteHook& at) {
  write_file_durably(root + "/latest", std::to_string(step) + "\n", at, WritePoint::none);
}

}  // namespace pipekit
