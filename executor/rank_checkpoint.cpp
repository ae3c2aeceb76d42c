// RankRunner's part in checkpoints (stage files: checkpoint.h; the manifest,
// verification and retention: checkpoint/commit.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "checkpoint/commit.h"
#include "core/units.h"
#include "executor/checkpoint.h"
#include "executor/rank_runtime.h"

namespace pipekit {

void RankRunner::save_checkpoint(int step) {
  const WriteHook at = c_.faults.checkpoint_kill(id_.rank, step);
  begin_checkpoint(c_.checkpoint_dir, step);
  std::vector<CheckpointFile> files;
  if (net_.replica() == 0)  // replicas hold identical weights
    for (auto& s : stages_)
      files.push_back(write_stage_file(checkpoint_stage_file(c_, step, s.stage), s, at));
  commit_files(step, std::move(files), at);
}

void RankRunner::load_checkpoint(int step) {
  for (auto& s : stages_) read_stage_file(checkpoint_stage_file(c_, step, s.stage), s);
}

// Asynchronous: this rank's state at its cut after `minibatch`. Every replica
// writes: their weights agree, but each holds its own micro-batches in flight.
void RankRunner::save_stream_checkpoint(int minibatch) {
  const WriteHook at = c_.faults.checkpoint_kill(id_.rank, minibatch);
  begin_checkpoint(c_.checkpoint_dir, minibatch);
  std::vector<CheckpointFile> files;
  for (auto& s : stages_)
    files.push_back(write_stream_stage_file(checkpoint_stage_file(c_, minibatch, s.stage, net_.replica()), s,
                                            s.last ? mb_loss_ : std::map<int, double>{}, at));
  commit_files(minibatch, std::move(files), at);
}

// No barrier: the others report their files through the store and go on
// (mid-stream, an asynchronous rank must not wait for the others' cuts);
// rank 0 (stage 0, which passes an asynchronous cut last) gathers them and
// commits the checkpoint, which only then exists as complete.
void RankRunner::commit_files(int step, std::vector<CheckpointFile> files, const WriteHook& at) {
  const std::string key = fmt::format("pipekit/checkpoint/{}/", step);
  if (id_.rank != 0) {
    const std::string v = files_to_json(files);
    net_.store().set(key + std::to_string(id_.rank), std::vector<std::uint8_t>(v.begin(), v.end()));
    return;
  }
  std::vector<std::string> keys;
  for (int r = 1; r < id_.world_size; ++r) keys.push_back(key + std::to_string(r));
  net_.store().wait(keys, net_.timeout());
  for (const auto& k : keys) {
    const std::vector<std::uint8_t> v = net_.store().get(k);
    const auto theirs = files_from_json(std::string(v.begin(), v.end()), k);
    files.insert(files.end(), theirs.begin(), theirs.end());
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  CheckpointManifest m;
  m.step = step;
  m.run = checkpoint_run_identity(c_);
  m.files = std::move(files);
  const CommitResult r = commit_checkpoint(c_.checkpoint_dir, m, c_.keep_checkpoints, at);
  if (c_.quiet) return;
  std::printf("checkpoint: %s (%zu files, %s, verified)\n", r.dir.c_str(), m.files.size(),
              format_bytes(static_cast<double>(r.bytes)).c_str());
  for (const auto& d : r.deleted)
    std::printf("checkpoint: deleted %s (--keep-checkpoints %d)\n", d.c_str(), c_.keep_checkpoints);
  std::fflush(stdout);
}

void RankRunner::load_stream_checkpoint(int minibatch, const RankCut& cut) {
  for (auto& s : stages_) {
    const std::string path = checkpoint_stage_file(c_, minibatch, s.stage, net_.replica());
    const std::vector<int> mbs = read_stream_stage_file(path, s, net_.device(), mb_loss_);
    if (mbs != cut.in_flight)
      throw std::runtime_error(fmt::format(
          "checkpoint {}: micro-batches {} are in flight, but this schedule's cut after minibatch {} has {}",
          path, fmt::join(mbs, ","), minibatch, fmt::join(cut.in_flight, ",")));
  }
}

// This replica's part of the cut after `minibatches`: with replicas dealt
// round-robin, the micro-batches (and their messages) it owns.
RankCut RankRunner::my_cut(int minibatches) const {
  RankCut cut = stream_cut(c_.schedule, minibatches * c_.minibatch_mbs).at(prank_);
  const int r = net_.my_replicas();
  if (r <= 1) return cut;
  auto other = [&](int mb) { return mb % r != net_.replica(); };
  std::erase_if(cut.in_flight, other);
  std::erase_if(cut.repost, [&](const Action& a) { return other(a.microbatch); });
  std::erase_if(cut.resend, [&](const Action& a) { return other(a.microbatch); });
  return cut;
}

// Rebuilds what the cut left in flight: the graphs of micro-batches whose
// forward ran before it (recomputed with the weight version that forward
// used, as R would), receives posted before it, and activations the next
// stage had not taken yet.
void RankRunner::resume_stream(const RankCut& cut) {
  for (auto& s : stages_)
    for (int mb : cut.in_flight) {
      if (!s.first) s.input.at(mb).requires_grad_(true);
      recompute(s, mb, 0);
    }
  for (const Action& a : cut.repost) execute(a, 0);
  for (const Action& a : cut.resend) execute(a, 0);
}

}  // namespace pipekit
