// Schedule generators: the per-rank action lists of every schedule pipekit knows.
//
// generate_schedule() returns an UNLOWERED schedule (compute and step-level
// actions only); lower_schedule() (passes/lowering.h) adds SEND/RECV actions.
// The simulator and the executor consume the result unchanged.
//
// Conventions shared by generators, simulator and executor:
// - Stages are global virtual stages 0..S-1 in pipeline order, S = ranks * v.
//   Interleaved, zb-interleaved: stage s lives on rank s % p (chunk s / p).
//   zbv, dualpipev: rank r holds stage r (chunk 0) and stage 2p-1-r (chunk 1),
//   a V. Others: stage s on rank s.
// - spec.cost_hint (core/plan.h): the zero-bubble family builds its order for
//   those costs and memory cap (never slower than the unit-cost order under
//   them); the other schedules ignore it. Without it every order is fixed.
// - Micro-batches are 0..m-1 per step (flush schedules). For the asynchronous
//   schedules (pipedream, 2bw) the list covers `spec.minibatches` minibatches of
//   `spec.microbatches` micro-batches each, numbered consecutively, with no flush.
// - F{mb} precedes B{mb} (or I{mb} then W{mb}) on every stage; stage s runs F{mb}
//   only after stage s-1 did, and B{mb} only after stage s+1 did.
// - Recomputation: an R{mb} action immediately precedes the backward of mb on
//   each stage that recomputes (gpipe --recompute always|except_last; except_last
//   leaves the last stage alone).
// - Step-level: flush schedules end every rank with "{stage}STEP" for each of its
//   stages (REDUCE_GRAD first when a stage is replicated). pipedream puts a STEP
//   after every backward of a stage (an update per micro-batch, on the newest
//   weights); 2bw puts a STEP after the backward of the last micro-batch of each
//   minibatch.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

// Schedule names accepted by generate_schedule, in the order tables list them
// (the rows of core/schedule_traits.h).
const std::vector<std::string>& schedule_kinds();

// Throws InputError (source "--schedule", "--microbatches", "--virtual") when the
// parameters cannot make that schedule, saying why and what would work.
Schedule generate_schedule(const ScheduleSpec& spec, int num_ranks);

// Rank holding global stage `stage` for the schedule named `kind` with p ranks
// (core/schedule_traits.h's placement; custom for a name not in the table).
int stage_rank(const std::string& kind, int stage, int num_ranks, int virtual_stages);

}  // namespace pipekit
