#include "planner/plan_search.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/schedule_traits.h"
#include "planner/schedule_generator.h"
#include "planner/straight_partitioner.h"
#include "simulator/simulator.h"
#include "simulator/stage_costs.h"

namespace pipekit {

SearchResult search_plans(const Profile& profile, const SearchOptions& o) {
  const int devices = o.cluster.num_devices();
  if (devices < 1) throw InputError("--devices", "", "the search needs at least one device");
  const int n = static_cast<int>(profile.layers.size());
  SearchResult result;
  for (int p = 1; p <= devices; ++p) {
    if (devices % p != 0) continue;
    const int replicas = devices / p;
    if (o.straight && replicas != 1) continue;
    std::vector<int> counts = o.microbatches;
    if (counts.empty()) counts = {p, 2 * p, 4 * p};
    std::sort(counts.begin(), counts.end());
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    for (const std::string& kind : o.schedules) {
      const ScheduleTraits& traits = schedule_traits(kind);
      const int v = traits.search_chunks;
      if (p * v > n) continue;
      if (v > 1 && p == 1) continue;  // chunks on a single rank only add work
      for (int m : counts)
        for (Recompute rc : o.recompute) {
          ++result.tried;
          try {
            ScheduleSpec spec;
            spec.kind = kind;
            spec.microbatches = m;
            spec.virtual_stages = v;
            spec.recompute = rc;
            Schedule schedule = generate_schedule(spec, p);

            StraightOptions so;
            so.stages = p * v;
            so.schedule = spec;
            // Several chunks per rank: each chunk holds what a 1F1B stage would.
            if (v > 1) so.schedule.kind = schedule_traits(ScheduleKind::one_f_one_b).name;
            so.optimizer_factor = static_memory_factor(o.precision, Optimizer::adam);
            if (o.cluster.device_memory_bytes > 0)
              so.memory_bytes = static_cast<double>(o.cluster.device_memory_bytes) / v;
            if (!o.cluster.levels.empty()) so.bandwidth = o.cluster.levels.back().bandwidth_bytes_per_s;
            StraightResult parts = straight_partition(profile, so);

            Plan plan;
            plan.model = profile.model;
            plan.microbatch_size = profile.microbatch_size;
            plan.schedule = spec;
            plan.cluster = o.cluster;
            plan.precision = o.precision;
            for (int s = 0; s < p * v; ++s) {
              PlanStage st;
              for (int l = parts.stages[s].first; l <= parts.stages[s].last; ++l) st.layers.push_back(l);
              st.replicas = replicas;
              const int rank = stage_rank(traits, s, p);
              for (int r = 0; r < replicas; ++r) st.ranks.push_back(rank * replicas + r);
              plan.stages.push_back(st);
            }
            StageCosts costs = stage_costs_from_plan(profile, plan);
            SimOptions sim;
            sim.record_timeline = false;
            sim.microbatch_size = std::max(1, profile.microbatch_size);
            sim.precision = o.precision;
            for (int r = 0; r < p; ++r) sim.rank_device.push_back(r * replicas);
            SimulationResult res = simulate(schedule, costs, o.cluster, sim);

            SearchCandidate c;
            c.time_per_minibatch_ms = res.metrics.time_per_minibatch_ms;
            c.peak_memory_bytes = static_cast<double>(res.metrics.peak_memory_bytes);
            c.bubble_fraction = res.metrics.bubble_fraction;
            c.fits_memory = res.metrics.fits_memory;
            plan.predicted["time_per_minibatch_s"] = c.time_per_minibatch_ms / 1000.0;
            plan.predicted["step_time_ms"] = res.metrics.step_time_ms;
            plan.predicted["peak_memory_bytes"] = c.peak_memory_bytes;
            plan.predicted["bubble_fraction"] = c.bubble_fraction;
            c.plan = std::move(plan);
            result.ranked.push_back(std::move(c));
          } catch (const InputError& e) {
            ++result.skipped;
            if (result.first_skip_reason.empty()) result.first_skip_reason = e.what();
          }
        }
    }
  }
  std::stable_sort(result.ranked.begin(), result.ranked.end(),
                   [](const SearchCandidate& a, const SearchCandidate& b) {
                     if (a.fits_memory != b.fits_memory) return a.fits_memory;
                     const double ta = a.time_per_minibatch_ms / a.plan.schedule.microbatches;
                     const double tb = b.time_per_minibatch_ms / b.plan.schedule.microbatches;
                     if (std::abs(ta - tb) > 1e-9 * std::max(ta, tb)) return ta < tb;
                     return a.peak_memory_bytes < b.peak_memory_bytes;
                   });
  return result;
}

}  // namespace pipekit
