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
// after minibatch K is a cut through it (simulator/stream_cut.h): each rank
// writes its stage file when it passes its cut, adding the weight versions in
// use, the micro-batches in flight with their stage inputs, and its losses so
// far; rank 0 writes the manifest once every rank has.
//
// `--resume` continues from D/latest; a missing, incomplete or incompatible
// checkpoint is an InputError in the launching process (exit 2, before any
// rank starts).
#pragma once

#include <string>
#include <vector>

#include "executor/run_config.h"

namespace pipekit {

// D/step-K/stage<S>.pt; replica j > 0 of an asynchronous stage (whose
// micro-batches in flight differ from its siblings') writes stage<S>.replica<j>.pt.
std::string checkpoint_stage_file(const RunConfig& c, int step, int stage, int replica = 0);

// Finds and checks the checkpoint to resume from; returns its step (steps done).
int find_resume_step(const RunConfig& c);

// Rank 0, after every stage file of `step` is written.
void write_checkpoint_manifest(const RunConfig& c, int step);

}  // namespace pipekit
