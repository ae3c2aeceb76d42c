#include "planner/schedules/two_bw.h"

#include "planner/schedules/pipedream.h"

namespace pipekit {

Schedule generate_two_bw(const ScheduleSpec& spec, int num_ranks) {
  Schedule s = generate_async_one_f_one_b("2bw", spec, num_ranks);
  const int m = spec.microbatches;
  for (auto& list : s.actions) {
    std::vector<Action> out;
    out.reserve(list.size() + spec.minibatches);
    for (const Action& a : list) {
      out.push_back(a);
      if (a.type == ActionType::B && (a.microbatch + 1) % m == 0)
        out.push_back(Action{a.stage, ActionType::STEP, -1});
    }
    list = std::move(out);
  }
  return s;
}

}  // namespace pipekit
