#include "planner/schedules/zb_h1.h"

#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zero_bubble_greedy.h"

namespace pipekit {

Schedule generate_zb_h1(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks;
  Schedule s = make_schedule_frame("zb-h1", p, 1, spec.microbatches);
  ZeroBubbleLimits lim;
  lim.in_flight.assign(p, p);
  for (int r = 0; r < p; ++r) lim.awaiting_input_grad.push_back(p - r);
  fill_zero_bubble_order(s, lim);
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
