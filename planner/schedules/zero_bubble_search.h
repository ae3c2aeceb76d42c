// Cost-aware construction shared by the zero-bubble generators: run the list
// scheduler of zero_bubble_greedy.h under a few candidate limits, with the
// measured costs and with unit costs, and keep the order that finishes first
// when replayed under the measured costs.
//
// Because every order built with unit costs is among those compared, the
// chosen order is never slower (in this replay, which is the simulator's model
// on free links) than the unit-cost order of any of the candidates, and it
// keeps every candidate's memory limits: what makes "cost-aware is never
// worse" a guarantee rather than a hope. The replay runs each rank's list in
// order: F(s, mb) starts after F(s-1, mb) ended plus the message time, I(s, mb)
// after I(s+1, mb) plus the message time, W after its rank's previous action.
#pragma once

#include <string_view>
#include <vector>

#include "core/plan.h"
#include "core/schedule.h"
#include "planner/schedules/zero_bubble_greedy.h"

namespace pipekit {

// The hint's times as integer ticks for the list scheduler: the largest time
// is 10^6 ticks, so ties and ratios survive to a millionth. Unit costs and
// free messages where the hint has none.
ZeroBubbleCosts zero_bubble_ticks(const ScheduleCostHint& hint, int stages);

// When the last action of an unlowered F/I/W (or B) schedule ends, each rank
// running its list in order under the hint's costs (ms; F = I = W = 1 and free
// messages without costs). Throws std::logic_error if the order cannot finish.
double replay_makespan(const Schedule& s, const ScheduleCostHint& hint);

// Most chunk-forwards of `rank` whose W (or B) has not run, along its list:
// the pending backward passes a memory cap bounds.
int max_pending_backward(const Schedule& s, int rank);

// Fills frame.actions with the best order over `candidates` (each run with the
// hint's costs, then with unit costs; ties keep the earlier). Candidates that
// deadlock are skipped; throws std::logic_error when all do.
void fill_best_zero_bubble_order(Schedule& frame, const std::vector<ZeroBubbleLimits>& candidates,
                                 const ScheduleCostHint& hint);

// Throws InputError when the hint does not fit `ranks` x `chunks` stages (see
// validate(ScheduleCostHint)) or a cap is below `chunks`, the chunk-forwards one
// micro-batch needs on a rank.
void check_cost_hint(const ScheduleCostHint& hint, int ranks, int chunks, std::string_view kind);

// The rank's memory cap applied to a schedule's own limit: the hint's cap when
// it sets one below `own`, else `own`.
int capped(const ScheduleCostHint& hint, int rank, int own);

}  // namespace pipekit
