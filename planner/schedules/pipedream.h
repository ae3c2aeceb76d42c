// pipedream: asynchronous 1F1B with weight stashing (PipeDream, Narayanan et al.
// SOSP 2019), no flush.
//
// The list covers N = microbatches * minibatches micro-batches in one stream.
// Rank s runs warm-up min(p - s - 1, N) forwards, steady 1F1B, and a cool-down
// only at the very end of the simulated window. Every backward is followed by
// a STEP of its stage (one weight update per micro-batch, applied to the newest
// weights). Stage s has p - s micro-batches in flight, so it stashes
// warm-up + 1 = p - s weight versions.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_pipedream(const ScheduleSpec& spec, int num_ranks);

// Shared by pipedream and 2bw: the 1F1B stream without flush over N micro-batches.
Schedule generate_async_one_f_one_b(const std::string& kind, const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
