// Checkpoints of a `pipekit run`: every `--checkpoint-every`
// steps each rank writes, per local stage, D/step-K/stage<S>.pt (weights and
// optimizer state: flush schedules keep one weight version); then rank 0
// writes D/step-K/manifest.json naming the plan (model, schedule, stages and
// their layers, micro-batches, batch, seq, optimizer) and the data position
// (K steps done; batches are a function of the step), and finally D/latest.
// Every file is written to a temporary name and renamed, so a checkpoint is
// complete exactly when its manifest exists, whatever moment a rank dies at.
//
// Asynchronous schedules (pipedream, 2bw) run one stream, so their checkpoint
// after minibatch K is a cut through it (passes/stream_cut.h): each rank
// writes its stage file when it passes its cut, adding the weight versions in
// use, the micro-batches in flight with their stage inputs, and its losses so
// far; rank 0 writes the manifest once every rank has.
//
// `--resume` continues from D/latest; a missing, incomplete or incompatible
// checkpoint is an InputError in the launching process (exit 2, before any
// rank starts).
//
// A stage file is a LibTorch archive (torch::serialize) holding:
//   param<i>        the stage's weights, in the layers' parameter order: the
//                   ones the optimizer updates (mixed precision: the fp32
//                   master weights; asynchronous: the newest, the master copy)
//   optimizer       the optimizer's state archive
// and, for asynchronous schedules only:
//   state           int64 [updates applied, forwards passed, most versions kept]
//   versions        int64 ids of the weight versions kept; version<v>.<i> their tensors
//   in_flight       int64 pairs (micro-batch, weight version its forward used);
//                   input<mb> that micro-batch's stage input
//   losses          float64 pairs (micro-batch, scaled loss) the last stage has seen
#pragma once

#include <map>
#include <string>
#include <vector>

#include "executor/local_stage.h"
#include "executor/run_config.h"

namespace pipekit {

// D/step-K/stage<S>.pt; replica j > 0 of an asynchronous stage (whose
// micro-batches in flight differ from its siblings') writes stage<S>.replica<j>.pt.
std::string checkpoint_stage_file(const RunConfig& c, int step, int stage, int replica = 0);

// Finds and checks the checkpoint to resume from; returns its step (steps done).
int find_resume_step(const RunConfig& c);

// Rank 0, after every stage file of `step` is written.
void write_checkpoint_manifest(const RunConfig& c, int step);

// A flush schedule's stage file: the weights and optimizer state. Written to a
// temporary name and renamed, so a stage file is whole or absent.
void write_stage_file(const std::string& path, LocalStage& s);
// Loads weights (checking their shapes) and optimizer state into `s`.
void read_stage_file(const std::string& path, LocalStage& s);

// An asynchronous stage at its cut: its newest weights, optimizer, weight
// stash, micro-batches in flight with their inputs, and `losses`.
void write_stream_stage_file(const std::string& path, const LocalStage& s,
                             const std::map<int, double>& losses);
// Restores all of it into `s` (tensors onto `device`); returns the micro-batches
// in flight, in order, and adds the file's losses to `losses`.
std::vector<int> read_stream_stage_file(const std::string& path, LocalStage& s, const torch::Device& device,
                                        std::map<int, double>& losses);

}  // namespace pipekit
