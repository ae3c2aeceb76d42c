// Places the weight gradients (W) of a fixed F/I order: the second half of
// building zb-interleaved, after torch.distributed.pipelining's interleaved
// zero-bubble schedule, which keeps interleaved 1F1B's forwards and input
// gradients and moves each W into the bubbles.
//
// Every rank keeps its F and I actions in the given order; the W of each I
// joins a per-rank FIFO queue. Simulating all ranks with the given integer
// costs, a rank whose next F or I cannot start yet runs a queued W instead
// (`fit_only`: only when the W ends before that action's inputs are known to
// arrive; otherwise whenever the inputs are not there); before an F that would
// exceed the rank's cap of chunk-forwards not yet W'd it runs queued W's first;
// queued W's run after its last F or I. W's never feed another action, so the
// order stays deadlock-free and, since F and I keep their order, every
// channel keeps its FIFO order. Requires cap[r] >= the F/I order's own peak of
// forwards not yet I'd on rank r. Linear in actions times log ranks.
#pragma once

#include <vector>

#include "core/schedule.h"
#include "planner/schedules/zero_bubble_greedy.h"

namespace pipekit {

// frame.actions: F and I only, per rank; replaced by F, I and W.
void place_weight_gradients(Schedule& frame, const std::vector<int>& cap, const ZeroBubbleCosts& costs,
                            bool fit_only);

// Most forwards of `rank` not yet I'd (or B'd) along its list.
int max_awaiting_input_grad(const Schedule& s, int rank);

}  // namespace pipekit
