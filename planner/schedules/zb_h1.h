// zb-h1: ZB-H1 of Qi et al., "Zero Bubble Pipeline Parallelism" (ICLR 2024).
//
// The backward is split into I (input gradient, on the critical path) and W
// (weight gradient, deferrable). Built by the list scheduler of
// zero_bubble_greedy.h with F = I = W unit costs and, on rank s:
//   - at most p - s forwards not yet I'd (1F1B's warm-up: p - s - 1 forwards
//     before the first steady forward),
//   - at most p forwards not yet W'd on every rank, i.e. 1F1B's peak (rank 0's)
//     activation memory; later ranks use their slack to defer W's.
// Priority F > I > W; W fills what would be idle time.
// Under equal costs F = I = W and m >= p the step (makespan with flush) is
// m(F+I+W) + (p-1)(F+I-W) = (3m + p - 1)F: the bubble is a third of 1F1B's.
// The same order replayed with any costs W <= F also gives exactly
// m(F+I+W) + (p-1)(F+I-W) (tested); with W > F it is up to (p-1)(W-F) longer.
// With a cost hint (core/plan.h) the list scheduler runs with the measured
// costs, and the unit-cost order is kept instead where it replays faster; a
// memory cap lowers both limits to it. Without a hint the order is the
// unit-cost one. Ends with a STEP per rank.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"
#include "planner/schedules/zero_bubble_greedy.h"

namespace pipekit {

// zb-h1's limits on p ranks under the hint's memory cap (zb-auto starts from them).
ZeroBubbleLimits zb_h1_limits(int num_ranks, const ScheduleCostHint& hint);

Schedule generate_zb_h1(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
