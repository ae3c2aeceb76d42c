// zb-h2: ZB-H2 of Qi et al., "Zero Bubble Pipeline Parallelism" (ICLR 2024).
//
// Like zb-h1 (zero_bubble_greedy.h, F = I = W unit costs, priority F > I > W)
// but with deeper warm-up so that no rank idles between its first and last
// action: rank s allows 2(p - s) - 1 forwards not yet I'd and 2p - 1 forwards
// not yet W'd (the paper's (2p-1) M_B peak, about twice 1F1B's).
// Under equal costs F = I = W: every rank is busy from its first to its last
// action once m >= 2p - 1; the makespan with a flush stays (3m + p - 1)F
// because the last rank cannot start before the first micro-batch reaches it
// (the zero bubble of the paper needs the next iteration to overlap that ramp,
// which a flushed step does not do).
// A cost hint works as for zb-h1: measured costs, the unit-cost order kept
// where it replays faster, both limits lowered to a memory cap.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_zb_h2(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
