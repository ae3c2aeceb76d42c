// gpipe: GPipe (Huang et al. 2019) with a flush.
//
// Every rank runs the forwards of micro-batches 0..m-1, then their backwards in
// the same (forward) order, as torch.distributed.pipelining's ScheduleGPipe
// does, then STEP. Each stage keeps the activations of all m micro-batches.
// Recompute inserts R{mb} right before each B{mb} of the recomputing stages.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_gpipe(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
