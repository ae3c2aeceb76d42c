#include "simulator/shared_device.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/error.h"

namespace pipekit {
namespace {

bool computes(ActionType t) {
  return is_compute(t) || is_step_level(t);
}

// Piecewise-constant count of computing ranks over time, with the running
// integral of 1 / slowdown, so any interval's progress is one subtraction.
class Progress {
 public:
  // `edges`: (time, +1 start / -1 end) of every computing interval, sorted.
  Progress(const std::vector<std::pair<double, int>>& edges, double capacity) {
    int k = 0;
    double integral = 0, t = edges.empty() ? 0 : edges.front().first;
    for (std::size_t i = 0; i < edges.size();) {
      const double now = edges[i].first;
      integral += (now - t) * rate(k, capacity);
      t = now;
      while (i < edges.size() && edges[i].first == now) k += edges[i++].second;
      times_.push_back(now);
      integral_.push_back(integral);
      rate_after_.push_back(rate(k, capacity));
    }
  }
  // Progress made over [a, b] by one of the computing ranks.
  double over(double a, double b) const { return at(b) - at(a); }

 private:
  static double rate(int k, double capacity) { return k <= 0 ? 1.0 : std::min(1.0, capacity / k); }
  double at(double t) const {
    auto it = std::upper_bound(times_.begin(), times_.end(), t);
    if (it == times_.begin()) return 0;
    const std::size_t i = static_cast<std::size_t>(it - times_.begin()) - 1;
    return integral_[i] + (t - times_[i]) * rate_after_[i];
  }
  std::vector<double> times_, integral_, rate_after_;
};

}  // namespace

SharedDevice shared_by_all(int ranks, double capacity, double step_capacity) {
  SharedDevice d;
  for (int r = 0; r < ranks; ++r) d.ranks.push_back(r);
  d.capacity = capacity;
  d.step_capacity = step_capacity;
  return d;
}

SharedSimulation simulate_shared(const Schedule& sch, const StageCosts& costs, const Cluster& cluster,
                                 const SimOptions& options, const std::vector<SharedDevice>& devices) {
  const int P = sch.num_ranks;
  std::vector<int> group(P, -1);
  for (std::size_t g = 0; g < devices.size(); ++g) {
    if (!(devices[g].capacity > 0) || !std::isfinite(devices[g].capacity))
      throw InputError("shared device", fmt::format("group {}", g),
                       fmt::format("capacity {} must be a positive number of ranks' worth of compute",
                                   devices[g].capacity));
    if (!(devices[g].step_capacity >= 0) || !std::isfinite(devices[g].step_capacity))
      throw InputError(
          "shared device", fmt::format("group {}", g),
          fmt::format("step capacity {} must be 0 (as capacity) or positive", devices[g].step_capacity));
    for (int r : devices[g].ranks) {
      if (r < 0 || r >= P)
        throw InputError("shared device", fmt::format("group {}", g),
                         fmt::format("rank {} is outside the schedule's ranks 0..{}", r, P - 1));
      if (group[r] >= 0)
        throw InputError(
            "shared device", fmt::format("group {}", g),
            fmt::format("rank {} is already in group {}; a rank shares one device", r, group[r]));
      group[r] = static_cast<int>(g);
    }
  }
  SharedSimulation out;
  SimOptions opt = options;
  opt.record_action_times = true;
  opt.action_time_scale.assign(P, {});
  for (int r = 0; r < P; ++r) opt.action_time_scale[r].assign(sch.actions[r].size(), 1.0);
  // A group can slow anyone only if it has more ranks than capacity.
  bool contended = false;
  for (const auto& d : devices)
    contended = contended || static_cast<double>(d.ranks.size()) > d.capacity ||
                (d.step_capacity > 0 && static_cast<double>(d.ranks.size()) > d.step_capacity);

  double last_step = -1;
  for (out.rounds = 1; out.rounds <= 200; ++out.rounds) {
    out.result = simulate(sch, costs, cluster, opt);
    if (out.rounds == 1) out.dedicated_step_ms = out.result.metrics.step_time_ms;
    const double step = out.result.metrics.step_time_ms;
    if (!contended || (last_step > 0 && std::abs(step - last_step) <= 1e-4 * last_step)) {
      out.converged = true;
      break;
    }
    last_step = step;
    const auto& times = out.result.action_times;
    for (std::size_t g = 0; g < devices.size(); ++g) {
      std::vector<std::pair<double, int>> edges;
      for (int r : devices[g].ranks)
        for (std::size_t k = 0; k < times[r].size(); ++k)
          if (computes(sch.actions[r][k].type) && times[r][k].second > times[r][k].first) {
            edges.emplace_back(times[r][k].first, +1);
            edges.emplace_back(times[r][k].second, -1);
          }
      const double step_capacity =
          devices[g].step_capacity > 0 ? devices[g].step_capacity : devices[g].capacity;
      std::sort(edges.begin(), edges.end());
      const Progress progress(edges, devices[g].capacity);
      // A second integral only when steps share differently.
      const std::optional<Progress> step_progress =
          step_capacity != devices[g].capacity ? std::optional<Progress>(Progress(edges, step_capacity))
                                               : std::nullopt;
      for (int r : devices[g].ranks)
        for (std::size_t k = 0; k < times[r].size(); ++k) {
          const auto [a, b] = times[r][k];
          const ActionType t = sch.actions[r][k].type;
          if (!computes(t) || b <= a) continue;
          // The slowdown under which this interval's progress equals the
          // action's work: interval length over progress (harmonic mean).
          const Progress& p = is_step_level(t) && step_progress ? *step_progress : progress;
          const double wanted = (b - a) / std::max(1e-12, p.over(a, b));
          double& s = opt.action_time_scale[r][k];
          s = std::max(1.0, 0.5 * (s + wanted));
        }
    }
  }
  out.rounds = std::min(out.rounds, 200);
  if (!options.record_action_times) out.result.action_times.clear();
  if (!options.record_timeline) {
    out.result.timeline.events.clear();
    out.result.timeline.memory.clear();
  }
  return out;
}

}  // namespace pipekit
