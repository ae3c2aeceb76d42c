// Test support: checkpoints made of plain files by the checkpoint module
// itself (no LibTorch), as a run would commit them, and ways to damage them.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/catalog.h"
#include "checkpoint/commit.h"
#include "checkpoint/durable_file.h"
#include "tests/support/run_command.h"

namespace pipekit::test {

inline nlohmann::ordered_json fake_run(const std::string& schedule = "1f1b") {
  return {{"model", "mlp"}, {"precision", "fp32"}, {"schedule", schedule}, {"stages", 2}, {"ranks", 2}};
}

// D/step-K with stage0.pt and stage1.pt (distinct contents per step),
// committed: manifest, verification, latest, retention `keep`.
inline CommitResult make_checkpoint(const std::string& root, int step, const std::string& schedule = "1f1b",
                                    int keep = 0) {
  begin_checkpoint(root, step);
  CheckpointManifest m;
  m.step = step;
  m.run = fake_run(schedule);
  for (int s = 0; s < 2; ++s) {
    const std::string name = "stage" + std::to_string(s) + ".pt";
    const std::string content(1000 + 10 * s, static_cast<char>('a' + step + s));
    const FileDigest d = write_file_durably(checkpoint_path(root, step) + "/" + name, content);
    m.files.push_back({name, d.bytes, d.xxh3});
  }
  return commit_checkpoint(root, m, keep);
}

inline void truncate_file(const std::string& path, std::uintmax_t bytes) {
  std::filesystem::resize_file(path, bytes);
}

inline void flip_byte(const std::string& path, std::streamoff at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(static_cast<char>(c ^ 0x01));
}

}  // namespace pipekit::test
