// zbv: ZB-V (Qi et al. 2024, "Pipeline Parallelism with Controllable Memory";
// the zero-bubble repository's ZB-V), two chunks per rank in a V: rank r holds
// stage r (chunk 0) and stage 2p-1-r (chunk 1), so rank 0 holds both the first
// and the last stage and the V turn (stage p-1 -> p) stays on rank p-1.
//
// Built by the list scheduler of zero_bubble_greedy.h with unit per-chunk
// costs, priority F > I > W, the later stage first at equal start times, and at
// most 2p chunk-forwards not yet W'd per rank (p whole micro-batches: 1F1B's
// peak activation memory); no separate warm-up limit.
// Achieves, under equal per-chunk costs c = F/2 = I/2 = W/2 and m >= 2p, a
// makespan of 6mc + (p-1+e)c against 1F1B's 6mc + 6(p-1)c, where (p-1)c is the
// least any flushed schedule can have (the last rank's first chunk cannot
// start earlier) and the excess e, measured for m in [2p, 6p], is 0 for
// p in {1,2,3,4,6}, at most 2 for p <= 12 and at most 3 for p <= 16: the bubble
// is about a sixth of 1F1B's. (Allowing 2p+2 chunk-forwards in flight, one
// micro-batch more than 1F1B, makes e = 0 for p <= 12; we keep 1F1B's memory.)
// With m < 2p the V cannot fill and the bubble grows towards 1F1B's.
// A cost hint works as for zb-h1; with it the scheduler may also reserve both
// chunks' slots when it admits a micro-batch (zero_bubble_greedy.h), which
// cannot deadlock whatever the costs.
// Requires virtual_stages == 2.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_zbv(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
