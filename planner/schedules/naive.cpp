#include "planner/schedules/naive.h"

#include <fmt/format.h>

#include "core/error.h"
#include "planner/schedules/schedule_building.h"

namespace pipekit {

Schedule generate_naive(const ScheduleSpec& spec, int num_ranks) {
  if (spec.microbatches != 1)
    throw InputError("--microbatches", "",
                     fmt::format("schedule 'naive' is model parallelism without micro-batching and "
                                 "takes exactly 1 micro-batch, not {}; use --schedule gpipe (or "
                                 "1f1b) to split the batch into micro-batches",
                                 spec.microbatches));
  Schedule s = make_schedule_frame("naive", num_ranks, 1, 1);
  for (int r = 0; r < num_ranks; ++r) {
    s.actions[r].push_back(Action{r, ActionType::F, 0});
    s.actions[r].push_back(Action{r, ActionType::B, 0});
  }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
