#include "planner/schedules/pipedream.h"

#include "planner/schedules/one_f_one_b.h"
#include "planner/schedules/schedule_building.h"

namespace pipekit {

Schedule generate_async_one_f_one_b(const std::string& kind, const ScheduleSpec& spec, int num_ranks) {
  const int n = spec.microbatches * spec.minibatches;
  Schedule s = make_schedule_frame(kind, num_ranks, 1, n);
  std::vector<StageMicrobatch> order(n);
  for (int r = 0; r < num_ranks; ++r) {
    for (int mb = 0; mb < n; ++mb) order[mb] = StageMicrobatch{r, mb};
    s.actions[r].reserve(3 * static_cast<std::size_t>(n));
    emit_one_f_one_b(s.actions[r], order, order, one_f_one_b_warmup(r, num_ranks, n));
  }
  insert_recompute(s, spec.recompute);
  return s;
}

Schedule generate_pipedream(const ScheduleSpec& spec, int num_ranks) {
  Schedule s = generate_async_one_f_one_b("pipedream", spec, num_ranks);
  for (auto& list : s.actions) {
    std::vector<Action> out;
    out.reserve(list.size() * 3 / 2 + 1);
    for (const Action& a : list) {
      out.push_back(a);
      if (a.type == ActionType::B) out.push_back(Action{a.stage, ActionType::STEP, -1});
    }
    list = std::move(out);
  }
  return s;
}

}  // namespace pipekit
