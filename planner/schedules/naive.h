// naive: inter-layer model parallelism without micro-batching.
//
// One micro-batch goes forward through stages 0..p-1 and backward through
// p-1..0, so exactly one rank is busy at any time; each rank's list is
// "sF0 sB0 sSTEP". Requires microbatches == 1 (use gpipe to micro-batch).
// Called through generate_schedule(), which checks the common parameters.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_naive(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
