#include "planner/schedule_costs.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/schedule_traits.h"
#include "simulator/memory_model.h"

namespace pipekit {

ScheduleCostHint schedule_cost_hint(const StageCosts& costs, const std::string& kind, int num_ranks,
                                    const Cluster& cluster, const CostHintOptions& o) {
  const ScheduleTraits& t = schedule_traits(kind);
  const int S = static_cast<int>(costs.stages.size());
  if (num_ranks < 1 || S % num_ranks)
    throw InputError("cost_hint", "",
                     fmt::format("{} stages do not divide among {} ranks", S, std::max(num_ranks, 0)));
  auto device = [&](int rank) {
    return rank < static_cast<int>(o.rank_device.size()) ? o.rank_device[rank] : rank;
  };
  ScheduleCostHint h;
  for (const StageCost& c : costs.stages) {
    h.forward_ms.push_back(c.forward_ms);
    h.input_grad_ms.push_back(c.input_grad_ms);
    h.weight_grad_ms.push_back(c.weight_grad_ms);
  }
  bool any_message = false;
  for (int s = 0; s + 1 < S; ++s) {
    const int a = stage_rank(t, s, num_ranks), b = stage_rank(t, s + 1, num_ranks);
    double ms = 0;
    if (a != b)
      ms = cluster.transfer_seconds(device(a), device(b), static_cast<double>(costs.stages[s].output_bytes)) *
           1000.0;
    h.message_ms.push_back(ms);
    any_message = any_message || ms > 0;
  }
  if (!any_message) h.message_ms.clear();
  if (o.memory_limit_bytes <= 0) return h;

  const int chunks = S / num_ranks;
  h.max_pending_backward.assign(num_ranks, 0);
  for (int r = 0; r < num_ranks; ++r) {
    std::int64_t fixed = 0, per = 0, workspace = 0, buffer = 0, recomputed = 0;
    for (int s = 0; s < S; ++s) {
      if (stage_rank(t, s, num_ranks) != r) continue;
      const StageCost& c = costs.stages[s];
      const StaticMemory m = static_memory(c, t, s, S, o.optimizer, o.precision);
      fixed += m.weights + m.master + m.gradients + m.optimizer;
      const bool rc =
          o.recompute == Recompute::always || (o.recompute == Recompute::except_last && s + 1 < S);
      per = std::max(per, stashed_activation_bytes(c, rc));
      if (rc) recomputed = std::max(recomputed, c.saved_bytes);
      workspace = std::max(workspace, c.workspace_bytes);
      buffer = std::max({buffer, c.input_bytes, c.output_bytes});
    }
    const std::int64_t room = o.memory_limit_bytes - fixed - workspace - recomputed - 2 * buffer;
    std::int64_t cap = per > 0 ? std::max<std::int64_t>(room, 0) / per : (1 << 24);
    cap = std::clamp<std::int64_t>(cap, chunks, 1 << 24);
    h.max_pending_backward[r] = static_cast<int>(cap);
  }
  return h;
}

ScheduleCostHint schedule_cost_hint(const Profile& profile, const Plan& plan, std::int64_t memory_limit_bytes,
                                    Optimizer optimizer) {
  const ScheduleTraits& t = schedule_traits(plan.schedule.kind, "plan");
  const int S = static_cast<int>(plan.stages.size());
  const int chunks = t.chunks(plan.schedule.virtual_stages);
  if (S % chunks)
    throw InputError("plan", "$.stages",
                     fmt::format("{} stages do not divide into {} chunks per rank", S, chunks));
  const int ranks = S / chunks;
  CostHintOptions o;
  o.memory_limit_bytes = memory_limit_bytes < 0 ? plan.cluster.device_memory_bytes : memory_limit_bytes;
  o.optimizer = optimizer;
  o.precision = plan.precision;
  o.recompute = plan.schedule.recompute;
  o.rank_device.assign(ranks, 0);
  for (int s = 0; s < S; ++s)
    if (!plan.stages[s].ranks.empty()) o.rank_device[stage_rank(t, s, ranks)] = plan.stages[s].ranks[0];
  return schedule_cost_hint(stage_costs_from_plan(profile, plan), plan.schedule.kind, ranks, plan.cluster, o);
}

}  // namespace pipekit
