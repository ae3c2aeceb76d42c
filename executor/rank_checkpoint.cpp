// RankRunner's part in checkpoints (files and manifest: checkpoint.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "executor/checkpoint.h"
#include "executor/rank_runtime.h"

namespace pipekit {

void RankRunner::save_checkpoint(int step) {
  if (net_.replica() == 0)  // replicas hold identical weights
    for (auto& s : stages_) write_stage_file(checkpoint_stage_file(c_, step, s.stage), s);
  // Every stage file is in place before the manifest names the checkpoint.
  net_.world().barrier()->wait(net_.timeout());
  if (id_.rank == 0) write_checkpoint_manifest(c_, step);
}

void RankRunner::load_checkpoint(int step) {
  for (auto& s : stages_) read_stage_file(checkpoint_stage_file(c_, step, s.stage), s);
}

// Asynchronous: this rank's state at its cut after `minibatch`. Every replica
// writes: their weights agree, but each holds its own micro-batches in flight.
void RankRunner::save_stream_checkpoint(int minibatch) {
  for (auto& s : stages_)
    write_stream_stage_file(checkpoint_stage_file(c_, minibatch, s.stage, net_.replica()), s,
                            s.last ? mb_loss_ : std::map<int, double>{});
  // No barrier mid-stream: the others say they are done and go on; rank 0
  // (stage 0 passes its cut last) names the checkpoint once all have.
  const std::string key = fmt::format("pipekit/checkpoint/{}/", minibatch);
  if (id_.rank != 0) {
    net_.store().set(key + std::to_string(id_.rank), std::vector<std::uint8_t>{1});
    return;
  }
  std::vector<std::string> keys;
  for (int r = 1; r < id_.world_size; ++r) keys.push_back(key + std::to_string(r));
  net_.store().wait(keys, net_.timeout());
  write_checkpoint_manifest(c_, minibatch);
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
