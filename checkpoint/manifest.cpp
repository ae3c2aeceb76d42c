#include "checkpoint/manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "checkpoint/file_digest.h"
#include "core/error.h"
#include "core/json_node.h"

namespace pipekit {
namespace {

nlohmann::ordered_json files_value(const std::vector<CheckpointFile>& files) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& f : files) out.push_back({{"name", f.name}, {"bytes", f.bytes}, {"xxh3", f.xxh3}});
  return out;
}

std::vector<CheckpointFile> files_from_node(const JsonNode& list) {
  std::vector<CheckpointFile> files;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    JsonNode f = list.item(i);
    f.only_keys({"name", "bytes", "xxh3"});
    CheckpointFile file;
    file.name = f.at("name").string();
    // A name stays inside its checkpoint's directory.
    if (file.name.empty() || file.name.find('/') != std::string::npos || file.name == "." ||
        file.name == ".." || file.name == "manifest.json")
      f.at("name").fail(
          fmt::format("'{}' is not the name of a file in the checkpoint's directory", file.name));
    if (!seen.insert(file.name).second) f.at("name").fail(fmt::format("'{}' is listed twice", file.name));
    file.bytes = f.at("bytes").integer();
    if (file.bytes < 0) f.at("bytes").fail("a size cannot be negative");
    file.xxh3 = f.at("xxh3").string();
    if (!is_xxh3_hex(file.xxh3)) f.at("xxh3").fail("expected 16 lower-case hex digits (XXH3-64)");
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

}  // namespace

std::string manifest_to_json(const CheckpointManifest& m) {
  nlohmann::ordered_json j;
  j["format"] = "pipekit-checkpoint/1";
  j["step"] = m.step;
  j["run"] = m.run;
  j["files"] = files_value(m.files);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

CheckpointManifest manifest_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  root.expect_object();
  if (!j.contains("format") && j.contains("step") && j.contains("schedule"))
    throw InputError(source, "",
                     "written by an earlier pipekit, before checkpoints recorded their files' sizes and "
                     "checksums: it cannot be verified; start a new run");
  check_format(root, "checkpoint", 1);
  root.only_keys({"format", "step", "run", "files"});
  CheckpointManifest m;
  m.step = root.at("step").int32();
  if (m.step < 1) root.at("step").fail("a checkpoint is made after at least 1 step");
  JsonNode run = root.at("run");
  run.expect_object();
  m.run = nlohmann::ordered_json::parse(run.raw().dump());
  m.files = files_from_node(root.at("files"));
  if (m.files.empty()) root.at("files").fail("a checkpoint has at least one file");
  return m;
}

std::string files_to_json(const std::vector<CheckpointFile>& files) {
  return files_value(files).dump();
}

std::vector<CheckpointFile> files_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  return files_from_node(JsonNode(j, "$", source));
}

std::string run_mismatch(const nlohmann::ordered_json& have, const nlohmann::ordered_json& want,
                         std::string* key) {
  for (const auto& [k, v] : want.items()) {
    const bool present = have.contains(k);
    if (present && have.at(k) == v) continue;
    if (key) *key = k;
    return fmt::format("{} is {} in the checkpoint, {} in this run", k,
                       present ? have.at(k).dump() : "not recorded", v.dump());
  }
  return "";
}

}  // namespace pipekit
