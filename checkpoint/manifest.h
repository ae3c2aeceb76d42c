// The manifest of a checkpoint, D/step-K/manifest.json ("pipekit-checkpoint/1",
// docs/formats.md). Rank 0 writes it last, once every rank has written its
// files and reported their sizes and digests: a checkpoint is complete exactly
// when its manifest exists. It records
//   step   the steps (asynchronous streams: minibatches) done,
//   run    what a run must match to resume from it, compared key by key: the
//          model's identity, the topology (stages, ranks, their layers,
//          replicas), the schedule, the precision, the data's shape, the
//          optimizer and seed (the executor fills it: executor/checkpoint.h),
//   files  every file of the checkpoint: name (relative to the checkpoint's
//          directory), size in bytes and XXH3-64 (file_digest.h).
// Manifests of the unversioned format before this one (no checksums) are
// refused by the reader with a message saying so.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pipekit {

struct CheckpointFile {
  std::string name;  // "stage0.pt", relative to the checkpoint's directory
  std::int64_t bytes = 0;
  std::string xxh3;  // 16 lower-case hex digits

  bool operator==(const CheckpointFile&) const = default;
};

struct CheckpointManifest {
  int step = 0;
  nlohmann::ordered_json run = nlohmann::ordered_json::object();
  std::vector<CheckpointFile> files;  // sorted by name
};

std::string manifest_to_json(const CheckpointManifest& m);
// Throws InputError naming `source` and the JSON path of what is wrong.
CheckpointManifest manifest_from_json(std::string_view text, const std::string& source);

// A file list as ranks hand it to rank 0 (the manifest's "files" array).
std::string files_to_json(const std::vector<CheckpointFile>& files);
std::vector<CheckpointFile> files_from_json(std::string_view text, const std::string& source);

// "" when every key of `want` (this run's identity) has the same value in
// `have` (a manifest's run), else what differs first: "schedule is "gpipe" in
// the checkpoint, "1f1b" in this run". The key is returned in `key`.
std::string run_mismatch(const nlohmann::ordered_json& have, const nlohmann::ordered_json& want,
                         std::string* key = nullptr);

}  // namespace pipekit
