#include "planner/schedules/gpipe.h"

#include "planner/schedules/schedule_building.h"

namespace pipekit {

Schedule generate_gpipe(const ScheduleSpec& spec, int num_ranks) {
  const int m = spec.microbatches;
  Schedule s = make_schedule_frame("gpipe", num_ranks, 1, m);
  for (int r = 0; r < num_ranks; ++r) {
    auto& list = s.actions[r];
    list.reserve(2 * m + 1);
    for (int mb = 0; mb < m; ++mb) list.push_back(Action{r, ActionType::F, mb});
    for (int mb = 0; mb < m; ++mb) list.push_back(Action{r, ActionType::B, mb});
  }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
