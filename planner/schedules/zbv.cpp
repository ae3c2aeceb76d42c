#include "planner/schedules/zbv.h"

#include <fmt/format.h>

#include "core/error.h"
#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zero_bubble_greedy.h"

namespace pipekit {

Schedule generate_zbv(const ScheduleSpec& spec, int num_ranks) {
  if (spec.virtual_stages != 2)
    throw InputError("--virtual", "",
                     fmt::format("zbv needs exactly 2 chunks per rank (a V: rank r holds stages r "
                                 "and 2p-1-r), got {}; pass --virtual 2",
                                 spec.virtual_stages));
  const int p = num_ranks;
  Schedule s = make_schedule_frame("zbv", p, 2, spec.microbatches);
  ZeroBubbleLimits lim;
  lim.in_flight.assign(p, 2 * p);
  fill_zero_bubble_order(s, lim);
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
