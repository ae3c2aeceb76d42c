#include "passes/lowering.h"

namespace pipekit {

Schedule lower_schedule(const Schedule& in) {
  if (in.lowered()) return in;
  Schedule out = in;
  const auto remote = [&](int from, int to) {
    return to >= 0 && to < in.num_stages && from >= 0 && from < in.num_stages &&
           in.stage_to_rank[to] != in.stage_to_rank[from];
  };
  for (auto& list : out.actions) {
    std::vector<Action> lowered;
    lowered.reserve(list.size() * 2);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Action& a = list[i];
      const int s = a.stage, mb = a.microbatch;
      switch (a.type) {
        case ActionType::F:
          if (remote(s, s - 1)) lowered.push_back(Action{s, ActionType::RECV_F, mb});
          lowered.push_back(a);
          if (remote(s, s + 1)) lowered.push_back(Action{s, ActionType::SEND_F, mb});
          break;
        case ActionType::R: {
          // The gradient must be here before the recompute that precedes the backward.
          bool before_backward = i + 1 < list.size() && list[i + 1].stage == s &&
                                 list[i + 1].microbatch == mb &&
                                 (list[i + 1].type == ActionType::B || list[i + 1].type == ActionType::I);
          if (before_backward && remote(s, s + 1)) lowered.push_back(Action{s, ActionType::RECV_B, mb});
          lowered.push_back(a);
          break;
        }
        case ActionType::B:
        case ActionType::I: {
          bool after_r = i > 0 && list[i - 1].type == ActionType::R && list[i - 1].stage == s &&
                         list[i - 1].microbatch == mb;
          if (!after_r && remote(s, s + 1)) lowered.push_back(Action{s, ActionType::RECV_B, mb});
          lowered.push_back(a);
          if (remote(s, s - 1)) lowered.push_back(Action{s, ActionType::SEND_B, mb});
          break;
        }
        default:
          lowered.push_back(a);
      }
    }
    list = std::move(lowered);
  }
  return out;
}

}  // namespace pipekit
