// zb-auto: the automatic zero-bubble schedule of Qi et al., "Zero Bubble
// Pipeline Parallelism" (ICLR 2024, section 3.1 "automatic scheduling"): the
// warm-up depth of each rank is chosen from the measured costs, W is placed
// into the gaps those costs leave, and the activations held stay under a
// memory limit.
//
// The paper searches heuristically over warm-up counts and then fills W in;
// here the search is over a bounded set of per-rank limits for the list
// scheduler of zero_bubble_greedy.h (each run with the measured costs and with
// unit costs, zero_bubble_search.h), keeping the order that replays fastest:
//   - zb-h1's limits (so zb-auto is never slower than zb-h1 under the same
//     costs and cap),
//   - zb-h2's, capped,
//   - warm-ups between zb-h1's p - r and the cost estimate 1 + T_r / F_r
//     forwards, where T_r is the time from rank r's first forward ending to
//     its first input gradient arriving (the forwards and input gradients of
//     the later stages plus the messages), and two beyond it, and no warm-up
//     limit at all; these use the whole memory cap.
// The memory cap (ScheduleCostHint::max_pending_backward, per rank, in
// forwards whose W has not run) defaults to p, 1F1B's peak; every candidate
// respects it. About 20 list-scheduler runs: p = 16, m = 64 takes a few ms.
// Without costs it is built for F = I = W. One stage per rank; ends with a
// STEP per rank.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_zb_auto(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
