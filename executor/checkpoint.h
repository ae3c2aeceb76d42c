// Checkpoints of a `pipekit run`, the executor's part: the stage files
// (LibTorch archives), what a run records as its identity in the manifest,
// and the choice of the checkpoint to resume from. The format, the manifest,
// verification and retention need no LibTorch and live in checkpoint/.
//
// Every `--checkpoint-every` steps each rank writes, per local stage,
// D/step-K/stage<S>.pt (weights and optimizer state: flush schedules keep one
// weight version) durably (checkpoint/durable_file.h: a temporary name, fsync,
// rename), computing its size and XXH3-64 as it writes, and reports them to
// rank 0 through the store. Rank 0 writes D/step-K/manifest.json listing every
// file (checkpoint/manifest.h), reads the checkpoint back against it, and only
// then advances D/latest and deletes what `--keep-checkpoints` no longer keeps
// (checkpoint/commit.h). A checkpoint is complete exactly when its manifest
// exists, whatever moment a rank dies at; a write that fails stops the run
// with exit 2 naming the file and the system's error.
//
// Asynchronous schedules (pipedream, 2bw) run one stream, so their checkpoint
// after minibatch K is a cut through it (passes/stream_cut.h): each rank
// writes its stage file when it passes its cut, adding the weight versions in
// use, the micro-batches in flight with their stage inputs, and its losses so
// far; rank 0 commits the checkpoint once every rank has reported.
//
// `--resume` verifies the newest checkpoint whole before any rank starts and
// falls back to the newest intact older one, saying so
// (checkpoint/resume_choice.h); `--resume-exact` refuses instead. Errors while
// reading a stage file name the file and say what to do, without LibTorch's
// stack trace.
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
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/manifest.h"
#include "checkpoint/write_point.h"
#include "executor/local_stage.h"
#include "executor/run_config.h"

namespace pipekit {

// stage<S>.pt; replica j > 0 of an asynchronous stage (whose micro-batches in
// flight differ from its siblings') writes stage<S>.replica<j>.pt.
std::string checkpoint_stage_name(int stage, int replica = 0);
// D/step-K/<checkpoint_stage_name>
std::string checkpoint_stage_file(const RunConfig& c, int step, int stage, int replica = 0);

// What the manifest records as this run's identity (its "run" object), every
// key of which a run must match to resume: the model (name, layers, vocabulary,
// tied weights; a TorchScript model's files' digests), the topology (stages,
// pipeline ranks, their layers, replicas of an asynchronous run), the
// schedule, the precision, micro-batches, batch, seq, optimizer and seed.
nlohmann::ordered_json checkpoint_run_identity(const RunConfig& c);

// Chooses and checks the checkpoint to resume from (InputError when there is
// none this run can use); records the choice in c.resume_choice and returns
// its step (steps done). With c.resume_choice already set by pipekit's
// launcher, which verified it moments ago, only rechecks what it chose.
int find_resume_step(RunConfig& c);

// A flush schedule's stage file: the weights the optimizer updates (fp32
// masters in mixed precision) and its state, written durably; returns its
// name, size and digest for the manifest.
CheckpointFile write_stage_file(const std::string& path, LocalStage& s, const WriteHook& at = {});
// Loads weights (checking their shapes) and optimizer state into `s`.
void read_stage_file(const std::string& path, LocalStage& s);

// An asynchronous stage at its cut: its newest weights, optimizer, weight
// stash, micro-batches in flight with their inputs, and `losses`.
CheckpointFile write_stream_stage_file(const std::string& path, const LocalStage& s,
                                       const std::map<int, double>& losses, const WriteHook& at = {});
// Restores all of it into `s` (tensors onto `device`); returns the micro-batches
// in flight, in order, and adds the file's losses to `losses`.
std::vector<int> read_stream_stage_file(const std::string& path, LocalStage& s, const torch::Device& device,
                                        std::map<int, double>& losses);

}  // namespace pipekit
