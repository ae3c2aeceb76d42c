#include "simulator/steady_window.h"

#include <algorithm>

namespace pipekit {

SteadyWindow timeline_window(const Timeline& t, double start_ms) {
  SteadyWindow w;
  w.start_ms = start_ms;
  w.length_ms = t.step_time_ms - start_ms;
  w.busy_ms.assign(std::max(0, t.num_ranks), 0.0);
  w.work_ms.assign(std::max(0, t.num_ranks), 0.0);
  for (const auto& e : t.events)
    if (e.stream == Stream::compute && e.rank >= 0 && e.rank < t.num_ranks) {
      const double inside = std::max(0.0, e.end_ms - std::max(e.start_ms, start_ms));
      w.busy_ms[e.rank] += inside;
      double& work = w.work_ms[e.rank];
      if (e.work_ms < 0 || work < 0)
        work = -1;
      else if (e.end_ms > e.start_ms)
        work += e.work_ms * inside / (e.end_ms - e.start_ms);
      else if (e.start_ms >= start_ms)
        work += e.work_ms;
    }
  return w;
}

std::optional<SteadyWindow> steady_window(const Timeline& t, int from) {
  std::optional<double> start;
  for (const auto& e : t.events)
    if (e.stream == Stream::compute && e.action.stage == 0 && e.action.type == ActionType::F &&
        e.action.microbatch == from)
      start = std::min(start.value_or(e.start_ms), e.start_ms);
  if (!start) return std::nullopt;
  return timeline_window(t, *start);
}

std::optional<double> steady_window_ms(const Schedule& s, const SimulationResult& r, int from) {
  for (std::size_t rank = 0; rank < s.actions.size() && rank < r.action_times.size(); ++rank) {
    const auto& list = s.actions[rank];
    for (std::size_t k = 0; k < list.size() && k < r.action_times[rank].size(); ++k)
      if (list[k].stage == 0 && list[k].type == ActionType::F && list[k].microbatch == from)
        return r.metrics.step_time_ms - r.action_times[rank][k].first;
  }
  return std::nullopt;
}

}  // namespace pipekit
