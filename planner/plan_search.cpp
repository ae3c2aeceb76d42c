#include "planner/plan_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <tuple>

#include "core/error.h"
#include "core/schedule_traits.h"
#include "passes/lowering.h"
#include "passes/round_robin.h"
#include "planner/profile_interpolation.h"
#include "planner/schedule_costs.h"
#include "planner/schedule_generator.h"
#include "planner/straight_partitioner.h"
#include "simulator/shared_device.h"
#include "simulator/simulator.h"
#include "simulator/stage_costs.h"

namespace pipekit {
namespace {

enum class RecomputeMode { never, except_last, always, selective };

// Which stages of `spec` replay their forward before the backward.
std::vector<bool> recomputing_stages(const ScheduleSpec& spec, std::size_t stages) {
  if (!spec.recompute_stages.empty()) return spec.recompute_stages;
  std::vector<bool> out(stages, spec.recompute != Recompute::never);
  if (spec.recompute == Recompute::except_last && !out.empty()) out.back() = false;
  return out;
}

// A lower bound on the time per minibatch, from costs alone (transfers count
// as free). Rank r does m x busy_r of compute; under a flush it cannot start
// before the first micro-batch's forward reached its first stage f_r, and
// after its last input gradient (all its work but the weight gradients W) the
// last micro-batch's gradient still has to pass stages f_r - 1 .. 0:
//   step >= F(<f_r) + max(m busy_r + AR_r, m (busy_r - W_r) + I(<f_r)),
// with I the input-gradient part (the whole backward where it is not split)
// and AR_r the all-reduces of r's replicated stages, once per step at least.
// For a stream (pipedream, 2bw): m busy_r + AR_r, what its steady state needs;
// the search prunes streams only at half of it, since the simulator measures
// the steady state over a window part of whose work may have run before it.
double lower_bound_ms(const StageCosts& costs, const Plan& plan, int ranks) {
  const std::vector<bool> rc = recomputing_stages(plan.schedule, costs.stages.size());
  const ScheduleTraits& t = schedule_traits(plan.schedule.kind);
  const double m = plan.schedule.microbatches;
  const std::size_t S = costs.stages.size();
  std::vector<double> busy(static_cast<std::size_t>(ranks), 0.0), w(busy), ar(busy), fill(S + 1, 0.0),
      drain(S + 1, 0.0);
  std::vector<std::size_t> first(static_cast<std::size_t>(ranks), S);
  for (std::size_t s = 0; s < S; ++s) {
    const StageCost& c = costs.stages[s];
    const auto r = static_cast<std::size_t>(stage_rank(t, static_cast<int>(s), ranks));
    busy[r] += c.forward_ms + c.backward_ms + (rc[s] ? c.recompute_ms : 0.0);
    if (t.splits_backward) w[r] += c.weight_grad_ms;
    ar[r] += c.allreduce_ms;
    first[r] = std::min(first[r], s);
    fill[s + 1] = fill[s] + c.forward_ms;
    drain[s + 1] = drain[s] + (t.splits_backward ? c.input_grad_ms : c.backward_ms);
  }
  double bound = 0;
  for (std::size_t r = 0; r < busy.size(); ++r) {
    if (t.asynchronous()) {
      bound = std::max(bound, m * busy[r] + ar[r]);
      continue;
    }
    const std::size_t f = std::min(first[r], S);
    bound = std::max(bound, fill[f] + std::max(m * busy[r] + ar[r], m * (busy[r] - w[r]) + drain[f]));
  }
  return bound;
}

// The generators do not know a stage's replicas: give every STEP of a
// replicated stage its all-reduce first (REDUCE_GRAD, costed by the simulator
// as the stage's ring all-reduce), so replication is not free. Streams update
// after every backward (pipedream) or minibatch (2bw) and pay it each time,
// as in PipeDream's cost model.
void add_gradient_reductions(Schedule& schedule, const StageCosts& costs) {
  for (auto& list : schedule.actions) {
    std::vector<Action> out;
    out.reserve(list.size() + 8);
    for (const Action& a : list) {
      if (a.type == ActionType::STEP && a.stage >= 0 &&
          static_cast<std::size_t>(a.stage) < costs.stages.size() &&
          costs.stages[static_cast<std::size_t>(a.stage)].allreduce_ms > 0)
        out.push_back(Action{a.stage, ActionType::REDUCE_GRAD, -1});
      out.push_back(a);
    }
    list = std::move(out);
  }
}

struct Candidate {
  int size = 0;  // index into the profiles at each micro-batch size
  int p = 1, v = 1, m = 1;
  int rows = 1;  // micro-batch = rows x the profile's size (data parallelism's split, see below)
  const ScheduleTraits* traits = nullptr;
  RecomputeMode rc = RecomputeMode::never;
  std::optional<Plan> plan;  // built once its split is known
  double lower_bound = 0;    // ms per sample
};

using SplitKey =
    std::tuple<int, int, int, std::string, int, int, int>;  // size, p, v, memory kind, rc, m in flight, rows

struct Split {
  std::optional<StraightResult> result;
  std::string error;
};

ScheduleSpec spec_of(const Candidate& c, const SearchOptions& o) {
  ScheduleSpec spec;
  spec.kind = std::string(c.traits->name);
  spec.microbatches = c.m;
  spec.virtual_stages = c.v;
  spec.recompute = c.rc == RecomputeMode::always        ? Recompute::always
                   : c.rc == RecomputeMode::except_last ? Recompute::except_last
                                                        : Recompute::never;
  // Enough minibatches that the measured window sees the stream's steady
  // state: at least 4p micro-batches beyond the fill.
  if (c.traits->asynchronous())
    spec.minibatches = std::max({2, o.async_minibatches, 2 + (4 * c.p + c.m - 1) / c.m});
  return spec;
}

}  // namespace

std::vector<int> default_microbatch_counts(int p) {
  std::vector<int> out;
  for (int m = 1; m <= 4 * p && m <= 512; ++m) out.push_back(m);
  for (int k : {6, 8})
    if (k * p <= 512) out.push_back(k * p);
  return out;
}

namespace {

// Only plans the executor runs (executor/prepare_run.cpp states the same
// rules): a flush schedule splits every micro-batch among a stage's replicas;
// an asynchronous one deals whole micro-batches round-robin, pipedream as
// many to each replica, and the replicas' all-reduces must not deadlock
// (passes/round_robin.h). Throws InputError naming the rule a plan breaks.
void check_replication_runs(const Plan& plan, const ScheduleTraits& traits, int p, const Schedule& schedule) {
  std::vector<int> group_replicas;
  for (int s = 0; s < p; ++s)
    group_replicas.push_back(std::max(1, plan.stages[static_cast<std::size_t>(s)].replicas));
  const int most = *std::max_element(group_replicas.begin(), group_replicas.end());
  if (most <= 1) return;
  const int b = std::max(1, plan.microbatch_size);
  if (!traits.asynchronous()) {
    // A profile without a recorded size leaves the split to the run's batch.
    if (plan.microbatch_size > 0 && b % most != 0)
      throw InputError("--search", "",
                       fmt::format("{} splits each micro-batch of {} among {} replicas: not a whole number",
                                   traits.name, b, most));
    return;
  }
  const bool every_microbatch = traits.update == WeightUpdate::every_microbatch;
  if (every_microbatch && plan.schedule.microbatches % most != 0)
    throw InputError("--search", "",
                     fmt::format("{} deals {} micro-batches round-robin among {} replicas unevenly",
                                 traits.name, plan.schedule.microbatches, most));
  const auto stuck = round_robin_deadlocks(lower_schedule(schedule), group_replicas, every_microbatch);
  if (!stuck.empty())
    throw InputError(
        "--search", "",
        fmt::format("{} with {} replicas per stage would deadlock ({})", traits.name, most, stuck[0]));
}

}  // namespace

SearchCandidate score_plan(const Profile& profile, Plan plan, const SearchOptions& o) {
  const ScheduleTraits& traits = schedule_traits(plan.schedule.kind);
  const int stages = static_cast<int>(plan.stages.size());
  const int v = std::max(1, plan.schedule.virtual_stages);
  const int p = stages / v;
  StageCosts costs = stage_costs_from_plan(profile, plan);
  // Cost-aware schedules (zb-auto, zb-interleaved) are built from this
  // candidate's own stage costs, links and memory limit; the plan keeps the
  // hint, so `run --plan` builds the same order.
  if (traits.uses_costs && plan.schedule.cost_hint.empty()) {
    CostHintOptions ho;
    ho.memory_limit_bytes = plan.cluster.device_memory_bytes;
    ho.precision = o.precision;
    ho.recompute = plan.schedule.recompute;
    for (int s = 0; s < p; ++s)
      ho.rank_device.push_back(plan.stages[static_cast<std::size_t>(s)].ranks.front());
    plan.schedule.cost_hint = schedule_cost_hint(costs, plan.schedule.kind, p, plan.cluster, ho);
  }
  Schedule schedule = generate_schedule(plan.schedule, p);
  check_replication_runs(plan, traits, p, schedule);
  add_gradient_reductions(schedule, costs);
  SimOptions sim;
  sim.record_timeline = false;
  sim.microbatch_size = std::max(1, plan.microbatch_size);
  sim.precision = o.precision;
  sim.optimizer = profile.training_optimizer();
  if (traits.asynchronous()) {
    sim.microbatches_per_minibatch = plan.schedule.microbatches;
    sim.weight_copy_bytes_per_s = profile.weight_copy_bytes_per_s;  // weight stashing's copies
  }
  for (int s = 0; s < p; ++s)
    sim.rank_device.push_back(plan.stages[static_cast<std::size_t>(s)].ranks.front());
  SimulationResult res;
  if (o.shared_capacity > 0) {
    // In simulated ranks: p of them stand for all the plan's processes.
    const double capacity = o.shared_capacity * schedule.num_ranks / std::max(1, plan.num_ranks());
    res = simulate_shared(schedule, costs, plan.cluster, sim, {shared_by_all(schedule.num_ranks, capacity)})
              .result;
  } else {
    res = simulate(schedule, costs, plan.cluster, sim);
  }

  SearchCandidate c;
  const int m = plan.schedule.microbatches;
  const double samples = static_cast<double>(m) * std::max(1, plan.microbatch_size);
  c.time_per_minibatch_ms = res.metrics.time_per_minibatch_ms;
  c.time_per_sample_ms = c.time_per_minibatch_ms / samples;
  c.peak_memory_bytes = static_cast<double>(res.metrics.peak_memory_bytes);
  c.bubble_fraction = res.metrics.bubble_fraction;
  c.fits_memory = res.metrics.fits_memory;
  const std::vector<bool> rc = recomputing_stages(plan.schedule, costs.stages.size());
  for (std::size_t s = 0; s < costs.stages.size(); ++s) {
    c.compute_ms += m * (costs.stages[s].forward_ms + costs.stages[s].backward_ms);
    if (rc[s]) c.recompute_ms += m * costs.stages[s].recompute_ms;
  }
  c.lower_bound_ms = lower_bound_ms(costs, plan, p) / samples;
  plan.predicted["time_per_minibatch_s"] = c.time_per_minibatch_ms / 1000.0;
  plan.predicted["time_per_sample_ms"] = c.time_per_sample_ms;
  plan.predicted["step_time_ms"] = res.metrics.step_time_ms;
  plan.predicted["peak_memory_bytes"] = c.peak_memory_bytes;
  plan.predicted["bubble_fraction"] = c.bubble_fraction;
  plan.predicted["recompute_ms"] = c.recompute_ms;
  c.plan = std::move(plan);
  return c;
}

SearchResult search_plans(const Profile& profile, const SearchOptions& o) {
  return search_plans(std::vector<Profile>{profile}, o);
}

SearchResult search_plans(const std::vector<Profile>& measured, const SearchOptions& o) {
  const int devices = o.cluster.num_devices();
  if (devices < 1) throw InputError("--devices", "", "the search needs at least one device");
  if (measured.empty()) throw InputError("--profile", "", "the search needs a profile");
  if (o.global_batch < 0) throw InputError("--global-batch", "", "the global batch must be positive");

  // Micro-batch sizes and a profile at each.
  std::vector<int> sizes = o.microbatch_sizes;
  if (sizes.empty())
    for (const Profile& p : measured) sizes.push_back(std::max(0, p.microbatch_size));
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  std::vector<Profile> profiles;
  for (int b : sizes) profiles.push_back(b > 0 ? interpolate_profile(measured, b) : measured.front());

  std::vector<const ScheduleTraits*> kinds;
  if (o.schedules.empty()) {
    for (const ScheduleTraits& t : schedule_table())
      if (t.generated()) kinds.push_back(&t);
  } else {
    for (const std::string& k : o.schedules) kinds.push_back(&schedule_traits(k));
  }
  std::vector<RecomputeMode> modes;
  for (Recompute r : o.recompute)
    modes.push_back(r == Recompute::always        ? RecomputeMode::always
                    : r == Recompute::except_last ? RecomputeMode::except_last
                                                  : RecomputeMode::never);
  const bool limited = o.cluster.device_memory_bytes > 0;
  if (o.selective_recompute && limited) modes.push_back(RecomputeMode::selective);
  std::sort(modes.begin(), modes.end());
  modes.erase(std::unique(modes.begin(), modes.end()), modes.end());

  // Enumerate.
  std::vector<Candidate> cands;
  for (std::size_t si = 0; si < profiles.size(); ++si) {
    const int n = static_cast<int>(profiles[si].layers.size());
    const int b = std::max(1, sizes[si]);
    for (int p = 1; p <= devices; ++p) {
      if (devices % p != 0) continue;
      if (o.straight && p != devices) continue;
      std::vector<int> counts;
      if (o.global_batch > 0) {
        if (o.global_batch % b != 0) continue;
        counts = {o.global_batch / b};
      } else {
        counts = o.microbatches.empty() ? default_microbatch_counts(p) : o.microbatches;
      }
      std::sort(counts.begin(), counts.end());
      counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
      for (const ScheduleTraits* t : kinds) {
        // A chunked row from 2 chunks (1 chunk is its plain schedule) up to its
        // maximum; a row that needs more chunks than max_virtual_stages keeps its minimum.
        const int lo_v = t->max_chunks == 1 ? 1 : std::max(t->min_chunks, 2);
        const int cap = std::max(o.max_virtual_stages, t->min_chunks);
        const int hi_v = t->max_chunks == 0 ? cap : std::min(t->max_chunks, cap);
        for (int v = lo_v; v <= hi_v; ++v) {
          if (p * v > n) continue;
          if (v > 1 && p == 1) continue;  // chunks on a single rank only add work
          for (int m : counts) {
            if (m < 1) continue;
            for (RecomputeMode rc : modes)
              cands.push_back(Candidate{static_cast<int>(si), p, v, m, 1, t, rc, {}, 0});
            // Data parallelism as Megatron runs it: each of the d = devices/p
            // replicas pipelines m/d micro-batches of size b. A flush plan
            // splits each micro-batch among the replicas, so that is m/d
            // micro-batches of d x b rows; it is the only way to replicate a
            // flush stage when b does not divide among the replicas.
            const int d = devices / p;
            if (!t->asynchronous() && d > 1 && sizes[si] > 0 && sizes[si] % d != 0 && m % d == 0)
              for (RecomputeMode rc : modes)
                cands.push_back(Candidate{static_cast<int>(si), p, v, m / d, d, t, rc, {}, 0});
          }
        }
      }
    }
  }

  SearchResult result;
  result.candidates = static_cast<int>(cands.size());
  std::map<SplitKey, Split> splits;
  auto note_skip = [&](const std::string& why) {
    ++result.skipped;
    if (result.first_skip_reason.empty()) result.first_skip_reason = why;
  };

  // Split each candidate (cached) and bound it.
  // Splits candidate c with the memory limit times `scale` (1: the limit,
  // cached; below 1: a retry after the simulator found the split too big) and
  // builds its plan and bound. false: no split fits, or a selective
  // candidate that recomputes nothing (the never candidate's twin).
  auto build = [&](Candidate& c, double scale) {
    const Profile& prof = profiles[static_cast<std::size_t>(c.size)];
    const int S = c.p * c.v;
    // Several chunks per rank: each chunk holds what a 1F1B stage would.
    const ScheduleTraits& mem_traits = c.v > 1 ? schedule_traits(ScheduleKind::one_f_one_b) : *c.traits;
    const int in_flight = limited ? std::min(c.m, in_flight_microbatches(mem_traits, 0, S, 1 << 30)) : 0;
    const SplitKey key{c.size,    c.p,   c.v, std::string(mem_traits.name), static_cast<int>(c.rc),
                       in_flight, c.rows};
    auto split = [&] {
      Split sp;
      try {
        StraightOptions so;
        so.stages = S;
        so.schedule = spec_of(c, o);
        so.schedule.kind = std::string(mem_traits.name);
        so.selective_recompute = c.rc == RecomputeMode::selective;
        so.optimizer_factor = static_memory_factor(o.precision, prof.training_optimizer());
        // Each stage has devices / p replicas sharing its activations.
        so.replicas = devices / c.p;
        so.microbatch_rows = c.rows;
        if (limited) so.memory_bytes = static_cast<double>(o.cluster.device_memory_bytes) * scale / c.v;
        if (!o.cluster.levels.empty()) so.bandwidth = o.cluster.levels.back().bandwidth_bytes_per_s;
        sp.result = straight_partition(prof, so);
      } catch (const InputError& e) {
        sp.error = e.what();
      }
      return sp;
    };
    Split fresh;
    const Split* sp = nullptr;
    if (scale == 1.0) {
      auto it = splits.find(key);
      if (it == splits.end()) it = splits.emplace(key, split()).first;
      sp = &it->second;
    } else {
      fresh = split();
      sp = &fresh;
    }
    if (!sp->result) {
      note_skip(sp->error);
      return false;
    }
    Plan plan;
    plan.model = prof.model;
    plan.microbatch_size = prof.microbatch_size * c.rows;
    plan.schedule = spec_of(c, o);
    if (c.rc == RecomputeMode::selective) {
      for (const StraightStage& st : sp->result->stages)
        plan.schedule.recompute_stages.push_back(st.recompute);
      if (std::none_of(plan.schedule.recompute_stages.begin(), plan.schedule.recompute_stages.end(),
                       [](bool x) { return x; }))
        return false;
    }
    plan.cluster = o.cluster;
    plan.precision = o.precision;
    const int replicas = devices / c.p;
    for (int s = 0; s < S; ++s) {
      PlanStage st;
      for (int l = sp->result->stages[static_cast<std::size_t>(s)].first;
           l <= sp->result->stages[static_cast<std::size_t>(s)].last; ++l)
        st.layers.push_back(l);
      st.replicas = replicas;
      const int rank = stage_rank(*c.traits, s, c.p);
      for (int r = 0; r < replicas; ++r) st.ranks.push_back(rank * replicas + r);
      plan.stages.push_back(std::move(st));
    }
    const StageCosts costs = stage_costs_from_plan(prof, plan);
    const double samples = static_cast<double>(c.m) * std::max(1, plan.microbatch_size);
    c.lower_bound = lower_bound_ms(costs, plan, c.p) / samples * (c.traits->asynchronous() ? 0.5 : 1.0);
    c.plan = std::move(plan);
    return true;
  };

  std::vector<Candidate*> live;
  for (Candidate& c : cands) {
    ++result.tried;
    if (build(c, 1.0)) live.push_back(&c);
  }
  std::stable_sort(live.begin(), live.end(),
                   [](const Candidate* a, const Candidate* b) { return a->lower_bound < b->lower_bound; });

  // Simulate in order of the bound until it passes the best fitting time.
  double best = std::numeric_limits<double>::infinity();
  int done = result.candidates - static_cast<int>(live.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    Candidate& c = *live[i];
    if (o.progress && (i % 16 == 0)) o.progress(done, result.candidates);
    ++done;
    if (o.prune && c.lower_bound > best * (1 + 1e-9)) {
      ++result.pruned;
      auto [it, fresh] = result.unsimulated_bound.emplace(std::string(c.traits->name), c.lower_bound);
      if (!fresh) it->second = std::min(it->second, c.lower_bound);
      continue;
    }
    // The partitioner's memory model is simpler than the simulator's: a split
    // it accepts can still overflow (zero-bubble W, buffers). Then split again
    // under a limit shrunk by the overflow, twice at most.
    double scale = 1.0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt > 0) {
        Candidate retry = c;
        if (!build(retry, scale) || (o.prune && retry.lower_bound > best * (1 + 1e-9))) break;
        c = std::move(retry);
      }
      try {
        SearchCandidate sc = score_plan(profiles[static_cast<std::size_t>(c.size)], std::move(*c.plan), o);
        const bool fits = sc.fits_memory;
        if (fits) best = std::min(best, sc.time_per_sample_ms);
        const double peak = sc.peak_memory_bytes;
        result.ranked.push_back(std::move(sc));
        if (fits || !limited || peak <= 0) break;
        scale *= 0.98 * static_cast<double>(o.cluster.device_memory_bytes) / peak;
      } catch (const InputError& e) {
        note_skip(e.what());
        break;
      }
    }
  }
  if (o.progress) o.progress(result.candidates, result.candidates);
  // Schedules with a simulated candidate need no bound.
  for (const SearchCandidate& c : result.ranked) result.unsimulated_bound.erase(c.plan.schedule.kind);
  std::stable_sort(result.ranked.begin(), result.ranked.end(),
                   [](const SearchCandidate& a, const SearchCandidate& b) {
                     if (a.fits_memory != b.fits_memory) return a.fits_memory;
                     const double ta = a.time_per_sample_ms, tb = b.time_per_sample_ms;
                     if (std::abs(ta - tb) > 1e-9 * std::max(ta, tb)) return ta < tb;
                     return a.peak_memory_bytes < b.peak_memory_bytes;
                   });
  return result;
}

}  // namespace pipekit
