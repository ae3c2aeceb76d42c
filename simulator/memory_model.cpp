#include "simulator/memory_model.h"

#include <algorithm>
#include <set>
#include <utility>

namespace pipekit {

int weight_versions(const std::string& kind, int stage, int num_stages) {
  return weight_versions(schedule_traits_or_custom(kind), stage, num_stages);
}

std::int64_t stashed_activation_bytes(const StageCost& c, bool recompute) {
  return recompute ? c.input_bytes : c.saved_bytes;
}

StaticMemory static_memory(const StageCost& c, const ScheduleTraits& t, int stage, int num_stages,
                           Optimizer o, Precision p) {
  const double n = parameter_count(c.param_bytes, p);
  const ParameterBytes per = bytes_per_parameter(p, o);
  StaticMemory m;
  m.weights = c.param_bytes * weight_versions(t, stage, num_stages, c.replicas);
  m.master = static_cast<std::int64_t>(n * per.master);
  m.gradients = static_cast<std::int64_t>(n * per.gradients);
  m.optimizer = static_cast<std::int64_t>(n * per.optimizer);
  return m;
}

std::vector<std::int64_t> executor_order_peaks(const Schedule& sch, const StageCosts& costs,
                                               const std::vector<std::int64_t>& step_transient) {
  std::vector<std::int64_t> peaks(sch.num_ranks, 0);
  for (int r = 0; r < sch.num_ranks; ++r) {
    std::vector<char> recomputes(sch.num_stages, 0);
    for (const Action& a : sch.actions[r])
      if (a.type == ActionType::R) recomputes[a.stage] = 1;
    auto remote = [&](int stage) {
      return stage >= 0 && stage < sch.num_stages && sch.stage_to_rank[stage] != r;
    };
    std::int64_t cur = 0, peak = 0;
    std::set<std::pair<int, int>> sent_forward;  // (stage, mb) whose output a send holds
    for (const Action& a : sch.actions[r]) {
      const StageCost& c = costs.stages[a.stage];
      const std::int64_t buf_in = remote(a.stage - 1) ? c.input_bytes : 0;  // saved_bytes includes it
      const std::int64_t own = c.saved_bytes - buf_in;
      const std::int64_t grad_buf = remote(a.stage + 1) ? c.output_bytes : 0;
      switch (a.type) {
        case ActionType::RECV_F:
          if (remote(a.stage - 1)) cur += c.input_bytes;
          break;
        case ActionType::RECV_B:
          if (remote(a.stage + 1)) cur += c.output_bytes;
          break;
        case ActionType::F:
          if (!recomputes[a.stage]) cur += own;
          peak = std::max(peak, cur + c.workspace_bytes);
          break;
        case ActionType::R:
          cur += own;
          peak = std::max(peak, cur + c.workspace_bytes);
          break;
        case ActionType::I:  // input gradient: the graph and the output gradient stay for W
          peak = std::max(peak, cur + c.workspace_bytes);
          break;
        case ActionType::B:
        case ActionType::W:  // the last backward of a micro-batch frees what its forward kept
          peak = std::max(peak, cur + c.workspace_bytes);
          cur -= own + buf_in + grad_buf;
          if (sent_forward.count({a.stage, a.microbatch})) cur += c.output_bytes;
          break;
        case ActionType::SEND_F:
          if (remote(a.stage + 1)) sent_forward.insert({a.stage, a.microbatch});
          break;
        case ActionType::SEND_B:
          if (remote(a.stage - 1)) cur += c.input_bytes;
          break;
        case ActionType::STEP:
          peak = std::max(peak, cur + (step_transient.empty() ? 0 : step_transient[r]));
          break;
        default:
          break;
      }
      peak = std::max(peak, cur);
    }
    peaks[r] = peak;
  }
  return peaks;
}

void count_received_inputs(const Schedule& sch, StageCosts& costs) {
  for (int s = 1; s < sch.num_stages; ++s)
    if (sch.stage_to_rank[s] != sch.stage_to_rank[s - 1])
      costs.stages[s].saved_bytes += costs.stages[s].input_bytes;
}

std::vector<std::int64_t> extra_version_bytes(const Schedule& sch, const StageCosts& costs) {
  const ScheduleTraits& t = schedule_traits_or_custom(sch.kind);
  std::vector<std::int64_t> out(sch.num_ranks, 0);
  for (int s = 0; s < sch.num_stages; ++s)
    out[sch.stage_to_rank[s]] +=
        static_cast<std::int64_t>(weight_versions(t, s, sch.num_stages, costs.stages[s].replicas) - 1) *
        costs.stages[s].param_bytes;
  return out;
}

}  // namespace pipekit
