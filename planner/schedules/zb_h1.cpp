#include "planner/schedules/zb_h1.h"

#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zero_bubble_greedy.h"
#include "planner/schedules/zero_bubble_search.h"

namespace pipekit {

ZeroBubbleLimits zb_h1_limits(int num_ranks, const ScheduleCostHint& hint) {
  const int p = num_ranks;
  ZeroBubbleLimits lim;
  lim.reserve_chunks = true;  // v = 1: the same rule as without
  for (int r = 0; r < p; ++r) {
    lim.in_flight.push_back(capped(hint, r, p));
    lim.awaiting_input_grad.push_back(std::min(p - r, lim.in_flight.back()));
  }
  return lim;
}

Schedule generate_zb_h1(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks;
  Schedule s = make_schedule_frame("zb-h1", p, 1, spec.microbatches);
  const ScheduleCostHint& hint = spec.cost_hint;
  check_cost_hint(hint, p, 1, "zb-h1");
  if (hint.empty())
    fill_zero_bubble_order(s, zb_h1_limits(p, hint));
  else
    fill_best_zero_bubble_order(s, {zb_h1_limits(p, hint)}, hint);
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
