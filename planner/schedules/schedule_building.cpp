#include "planner/schedules/schedule_building.h"

#include <algorithm>

#include "core/schedule_traits.h"

namespace pipekit {

Schedule make_schedule_frame(const std::string& kind, int num_ranks, int virtual_stages, int microbatches) {
  Schedule s;
  s.kind = kind;
  s.num_ranks = num_ranks;
  s.num_stages = num_ranks * virtual_stages;
  s.num_microbatches = microbatches;
  s.stage_to_rank.resize(s.num_stages);
  const ScheduleTraits& traits = schedule_traits_or_custom(kind);
  for (int st = 0; st < s.num_stages; ++st) s.stage_to_rank[st] = stage_rank(traits, st, num_ranks);
  s.actions.resize(num_ranks);
  return s;
}

void append_flush_steps(Schedule& s) {
  std::vector<std::vector<int>> stages_of(s.num_ranks);
  for (int st = 0; st < s.num_stages; ++st) stages_of[s.stage_to_rank[st]].push_back(st);
  for (int r = 0; r < s.num_ranks; ++r)
    for (int st : stages_of[r]) s.actions[r].push_back(Action{st, ActionType::STEP, -1});
}

void insert_recompute(Schedule& s, Recompute r) {
  if (r == Recompute::never) return;
  std::vector<bool> stages(static_cast<std::size_t>(std::max(s.num_stages, 0)), true);
  if (r == Recompute::except_last && !stages.empty()) stages.back() = false;
  insert_recompute(s, stages);
}

void insert_recompute(Schedule& s, const std::vector<bool>& stages) {
  for (auto& list : s.actions) {
    std::vector<Action> out;
    out.reserve(list.size() * 5 / 4 + 1);
    for (const Action& a : list) {
      const bool recomputes = a.stage >= 0 && static_cast<std::size_t>(a.stage) < stages.size() &&
                              stages[static_cast<std::size_t>(a.stage)];
      if (recomputes && (a.type == ActionType::B || a.type == ActionType::I))
        out.push_back(Action{a.stage, ActionType::R, a.microbatch});
      out.push_back(a);
    }
    list = std::move(out);
  }
}

void emit_one_f_one_b(std::vector<Action>& out, const std::vector<StageMicrobatch>& forwards,
                      const std::vector<StageMicrobatch>& backwards, int warmup, ActionType backward) {
  const std::size_t nf = forwards.size(), nb = backwards.size();
  std::size_t w = std::min<std::size_t>(static_cast<std::size_t>(std::max(warmup, 0)), nf);
  std::size_t f = 0, b = 0;
  for (; f < w; ++f) out.push_back(Action{forwards[f].stage, ActionType::F, forwards[f].microbatch});
  while (f < nf) {
    out.push_back(Action{forwards[f].stage, ActionType::F, forwards[f].microbatch});
    ++f;
    if (b < nb) {
      out.push_back(Action{backwards[b].stage, backward, backwards[b].microbatch});
      ++b;
    }
  }
  for (; b < nb; ++b) out.push_back(Action{backwards[b].stage, backward, backwards[b].microbatch});
}

}  // namespace pipekit
