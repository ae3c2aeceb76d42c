#include "planner/schedules/zb_h2.h"

#include <algorithm>

#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zero_bubble_greedy.h"
#include "planner/schedules/zero_bubble_search.h"

namespace pipekit {

Schedule generate_zb_h2(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks;
  Schedule s = make_schedule_frame("zb-h2", p, 1, spec.microbatches);
  const ScheduleCostHint& hint = spec.cost_hint;
  check_cost_hint(hint, p, 1, "zb-h2");
  ZeroBubbleLimits lim;
  lim.reserve_chunks = true;  // v = 1: the same rule as without
  for (int r = 0; r < p; ++r) {
    lim.in_flight.push_back(capped(hint, r, 2 * p - 1));
    lim.awaiting_input_grad.push_back(std::min(2 * (p - r) - 1, lim.in_flight.back()));
  }
  if (hint.empty())
    fill_zero_bubble_order(s, lim);
  else
    fill_best_zero_bubble_order(s, {lim}, hint);
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
