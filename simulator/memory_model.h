// What a rank keeps in device memory while a schedule runs, by term.
//
// Static terms (held for the whole step): weights x the versions the schedule
// keeps (flush schedules 1; pipedream p-s on stage s of p, one per in-flight
// micro-batch: warm-up + 1; 2bw 2), gradients (1x parameters) and optimizer state
// (adam: two fp32 moments = 2x parameter bytes, assuming fp32 parameters;
// momentum 1x; sgd 0). Dynamic terms, tracked by the simulator as actions run:
// activations (a forward keeps the stage's saved_bytes until its last backward;
// with recomputation only input_bytes until the recompute, which brings back
// saved_bytes for that one micro-batch) and buffers (bytes of transfers in
// flight on either end, plus the running action's workspace).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "core/precision.h"
#include "core/schedule.h"
#include "core/schedule_traits.h"
#include "simulator/stage_costs.h"

namespace pipekit {

// Weight versions a stage holds under the schedule named `kind` (stage in
// 0..num_stages-1): core/schedule_traits.h's rule, custom for unknown names.
int weight_versions(const std::string& kind, int stage, int num_stages);

// Bytes a forward of `c` keeps per micro-batch until its backward (or recompute).
std::int64_t stashed_activation_bytes(const StageCost& c, bool recompute);

struct StaticMemory {
  std::int64_t weights = 0, master = 0, gradients = 0, optimizer = 0;
};
// Static terms of one stage, whose param_bytes are one working copy in `p`
// (core/precision.h: bytes per parameter by precision and optimizer).
StaticMemory static_memory(const StageCost& c, const ScheduleTraits& t, int stage, int num_stages,
                           Optimizer o, Precision p = Precision::fp32);

// Peak activation bytes of each rank as the executor holds them, replaying
// the rank's lowered action list in order (the executor's memory depends only
// on that order, not on timing): a receive buffer exists from its RECV's
// posting until the F/B that uses it ends; an F keeps the stage's saved bytes
// (only its input when the stage recomputes, the rest from R) until the last
// backward of the micro-batch; F, R, B, I and W add the stage's workspace
// while they run; STEP adds `step_transient[rank]` (the optimizer's transient
// bytes; empty: none). A sent tensor stays referenced by its pending send
// until the end of the step (the runtime waits for all sends then), so an
// output sent forward outlives its B and a sent input gradient stays too.
// A stage's saved_bytes include its received input where the previous stage
// is on another rank (the runtime keeps that buffer until B).
std::vector<std::int64_t> executor_order_peaks(const Schedule& sch, const StageCosts& costs,
                                               const std::vector<std::int64_t>& step_transient);

// The runtime keeps a stage input received from another rank until the
// stage's backward: count it in that stage's saved_bytes.
void count_received_inputs(const Schedule& sch, StageCosts& costs);

// Bytes of the weight versions each rank keeps beyond one per stage
// (asynchronous schedules stash them during the stream).
std::vector<std::int64_t> extra_version_bytes(const Schedule& sch, const StageCosts& costs);

}  // namespace pipekit
