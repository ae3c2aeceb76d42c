#include "planner/schedules/one_f_one_b.h"

#include <algorithm>

#include "planner/schedules/schedule_building.h"

namespace pipekit {

int one_f_one_b_warmup(int rank, int num_ranks, int num_microbatches) {
  return std::min(num_ranks - rank - 1, num_microbatches);
}

Schedule generate_one_f_one_b(const ScheduleSpec& spec, int num_ranks) {
  const int m = spec.microbatches;
  Schedule s = make_schedule_frame("1f1b", num_ranks, 1, m);
  std::vector<StageMicrobatch> order(m);
  for (int r = 0; r < num_ranks; ++r) {
    for (int mb = 0; mb < m; ++mb) order[mb] = StageMicrobatch{r, mb};
    s.actions[r].reserve(2 * m + 1);
    emit_one_f_one_b(s.actions[r], order, order, one_f_one_b_warmup(r, num_ranks, m));
  }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
