#include "planner/schedules/zbv.h"

#include <fmt/format.h>

#include "core/error.h"
#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zero_bubble_greedy.h"
#include "planner/schedules/zero_bubble_search.h"

namespace pipekit {

Schedule generate_zbv(const ScheduleSpec& spec, int num_ranks) {
  if (spec.virtual_stages != 2)
    throw InputError("--virtual", "",
                     fmt::format("zbv needs exactly 2 chunks per rank (a V: rank r holds stages r "
                                 "and 2p-1-r), got {}; pass --virtual 2",
                                 spec.virtual_stages));
  const int p = num_ranks;
  Schedule s = make_schedule_frame("zbv", p, 2, spec.microbatches);
  const ScheduleCostHint& hint = spec.cost_hint;
  check_cost_hint(hint, p, 2, "zbv");
  ZeroBubbleLimits lim;
  for (int r = 0; r < p; ++r) lim.in_flight.push_back(capped(hint, r, 2 * p));
  if (hint.empty()) {
    fill_zero_bubble_order(s, lim);
  } else {
    // The historical rule (every chunk-forward takes a slot as it comes) can
    // deadlock under unequal costs; the reserving one cannot. Both compete.
    ZeroBubbleLimits reserving = lim;
    reserving.reserve_chunks = true;
    fill_best_zero_bubble_order(s, {lim, reserving}, hint);
  }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
