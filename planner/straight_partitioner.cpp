#include "planner/straight_partitioner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/schedule_traits.h"
#include "core/units.h"

namespace pipekit {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Sums {
  std::vector<double> time, forward, params, saved;  // prefix sums, size n + 1
  std::vector<double> cross;                         // bytes over the boundary after layer i
  double input_bytes = 0;

  double range(const std::vector<double>& x, int first, int last) const { return x[last + 1] - x[first]; }
  double stage_input(int first) const { return first == 0 ? input_bytes : cross[first - 1]; }
};

Sums make_sums(const Profile& p) {
  const int n = static_cast<int>(p.layers.size());
  Sums s;
  s.time.assign(n + 1, 0);
  s.params.assign(n + 1, 0);
  s.saved.assign(n + 1, 0);
  s.forward.assign(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    const Layer& l = p.layers[i];
    s.time[i + 1] = s.time[i] + l.forward_ms + l.backward_ms;
    s.params[i + 1] = s.params[i] + static_cast<double>(l.param_bytes);
    s.saved[i + 1] = s.saved[i] + static_cast<double>(l.saved_bytes);
    s.forward[i + 1] = s.forward[i] + l.forward_ms;
  }
  // A layer's output crosses every boundary between it and its last consumer.
  std::vector<double> delta(n + 1, 0);
  if (p.edges.empty()) {
    for (int i = 0; i + 1 < n; ++i) {
      delta[i] += static_cast<double>(p.layers[i].output_bytes);
      delta[i + 1] -= static_cast<double>(p.layers[i].output_bytes);
    }
  } else {
    std::vector<int> last_consumer(n, -1);
    for (auto [a, b] : p.edges) last_consumer[a] = std::max(last_consumer[a], b);
    for (int i = 0; i < n; ++i)
      if (last_consumer[i] > i) {
        delta[i] += static_cast<double>(p.layers[i].output_bytes);
        delta[last_consumer[i]] -= static_cast<double>(p.layers[i].output_bytes);
      }
  }
  s.cross.assign(n > 0 ? n - 1 : 0, 0);
  double run = 0;
  for (int i = 0; i + 1 < n; ++i) {
    run += delta[i];
    s.cross[i] = run;
  }
  s.input_bytes = static_cast<double>(p.input_bytes);
  return s;
}

// Bandwidth of the link between stage b and b + 1; 0: free.
double link(const StraightOptions& o, int b) {
  if (!o.boundary_bandwidths.empty()) return o.boundary_bandwidths[static_cast<std::size_t>(b)];
  return o.bandwidth;
}

double stage_time(const Sums& s, const StraightOptions& o, int stage, int first, int last, int n) {
  double t = s.range(s.time, first, last);
  if (first > 0 && link(o, stage - 1) > 0) t += s.cross[first - 1] / link(o, stage - 1) * 1000.0;
  if (last + 1 < n && stage + 1 < o.stages && link(o, stage) > 0)
    t += s.cross[last] / link(o, stage) * 1000.0;
  return t;
}

double stage_memory(const Sums& s, const StraightOptions& o, const ScheduleTraits& traits, int stage,
                    int first, int last, bool force_recompute = false) {
  const int p = o.stages;
  const int inflight = in_flight_microbatches(traits, stage, p, o.schedule.microbatches);
  const double params = s.range(s.params, first, last);
  // A replica's share of each micro-batch in flight (core/schedule_traits.h),
  // and of the one micro-batch it runs: that share under a flush schedule,
  // a whole one under an asynchronous schedule.
  const ReplicaShare share = replica_activation_share(traits, stage, p, o.schedule.microbatches, o.replicas);
  const double act = static_cast<double>(o.microbatch_rows) * static_cast<double>(share.num) /
                     static_cast<double>(share.den);
  const double one = traits.asynchronous() ? static_cast<double>(o.microbatch_rows) : act;
  const double saved = s.range(s.saved, first, last);
  double mem = params * (2.0 + o.optimizer_factor);
  const bool recompute = force_recompute || o.schedule.recompute == Recompute::always ||
                         (o.schedule.recompute == Recompute::except_last && stage + 1 < p);
  if (recompute)
    mem += s.stage_input(first) * act * inflight + saved * one;
  else
    mem += saved * act * inflight;
  // Weight versions beyond the first; pipedream's are its micro-batches in
  // flight, shared out among asynchronous replicas.
  // (pipedream is asynchronous: share.num is the micro-batches its busiest replica holds)
  int versions = weight_versions(traits, stage, p, o.replicas);
  if (traits.versions == WeightVersionRule::stage_depth)
    versions = std::min(versions, static_cast<int>(share.num));
  mem += params * (versions - 1);
  return mem;
}

// Best max-cost split into o.stages parts; cost(stage, first, last) = +inf forbids.
template <class Cost>
std::vector<int> min_max_split(int n, int p, const Cost& cost, double& best_value) {
  // best[s][j]: stages 0..s cover layers 0..j; start[s][j]: first layer of stage s.
  std::vector<std::vector<double>> best(p, std::vector<double>(n, kInf));
  std::vector<std::vector<int>> start(p, std::vector<int>(n, -1));
  for (int j = 0; j < n; ++j) {
    best[0][j] = cost(0, 0, j);
    start[0][j] = 0;
  }
  for (int s = 1; s < p; ++s)
    for (int j = s; j < n; ++j)
      for (int i = j; i >= s; --i) {
        const double before = best[s - 1][i - 1];
        if (before >= best[s][j]) continue;
        const double v = std::max(before, cost(s, i, j));
        if (v < best[s][j]) {
          best[s][j] = v;
          start[s][j] = i;
        }
      }
  best_value = best[p - 1][n - 1];
  std::vector<int> firsts(p);
  int j = n - 1;
  for (int s = p - 1; s >= 0; --s) {
    firsts[s] = start[s][j] < 0 ? 0 : start[s][j];
    j = firsts[s] - 1;
  }
  return firsts;
}

}  // namespace

int in_flight_microbatches(const std::string& kind, int stage, int stages, int microbatches) {
  return in_flight_microbatches(schedule_traits(kind), stage, stages, microbatches);
}

double straight_stage_memory(const Profile& p, const StraightOptions& o, int stage, int first, int last) {
  return stage_memory(make_sums(p), o, schedule_traits(o.schedule.kind), stage, first, last);
}

StraightResult straight_partition(const Profile& p, const StraightOptions& o) {
  const int n = static_cast<int>(p.layers.size());
  if (o.stages < 1)
    throw InputError("--devices", "", fmt::format("{} stages requested; need at least 1", o.stages));
  if (o.stages > n)
    throw InputError(
        "--devices", "",
        fmt::format("{} stages for a model of {} layers; a straight pipeline needs at least one layer "
                    "per stage: use at most {} devices",
                    o.stages, n, n));
  if (!o.boundary_bandwidths.empty() && static_cast<int>(o.boundary_bandwidths.size()) != o.stages - 1)
    throw InputError("--bandwidth", "", "need one bandwidth per stage boundary");
  const Sums s = make_sums(p);
  const ScheduleTraits& traits = schedule_traits(o.schedule.kind);
  const int stages = o.stages;
  auto fits = [&](int st, int first, int last, bool rc) {
    return !o.memory_bytes || stage_memory(s, o, traits, st, first, last, rc) <= *o.memory_bytes;
  };
  // Selective recomputation only where keeping the activations does not fit.
  auto recomputes = [&](int st, int first, int last) {
    return o.selective_recompute && !fits(st, first, last, false);
  };
  double best = 0;
  std::vector<int> firsts = min_max_split(
      n, stages,
      [&](int st, int first, int last) {
        const bool rc = recomputes(st, first, last);
        if (!fits(st, first, last, rc)) return kInf;
        return stage_time(s, o, st, first, last, n) + (rc ? s.range(s.forward, first, last) : 0.0);
      },
      best);
  if (!std::isfinite(best)) {
    // Explain with the split that needs the least memory.
    double least = 0;
    std::vector<int> f = min_max_split(
        n, stages,
        [&](int st, int first, int last) {
          return stage_memory(s, o, traits, st, first, last, o.selective_recompute);
        },
        least);
    int worst = 0;
    double worst_mem = -1;
    for (int st = 0; st < stages; ++st) {
      const int last = st + 1 < stages ? f[st + 1] - 1 : n - 1;
      double m = stage_memory(s, o, traits, st, f[st], last, o.selective_recompute);
      if (m > worst_mem) {
        worst_mem = m;
        worst = st;
      }
    }
    const int last = worst + 1 < stages ? f[worst + 1] - 1 : n - 1;
    const int inflight = in_flight_microbatches(traits, worst, stages, o.schedule.microbatches);
    throw InputError(
        "--memory", "",
        fmt::format(
            "no split into {} stages fits {} per device: even the split needing the least memory has stage "
            "{} "
            "(layers {}..{}, {} to {}) needing {} under {} with {} micro-batches ({} in flight, recompute "
            "{}) "
            "against the limit {}; raise --memory, use more devices, fewer micro-batches or --recompute",
            stages, format_bytes(*o.memory_bytes), worst, f[worst], last, p.layers[f[worst]].name,
            p.layers[last].name, format_bytes(worst_mem), o.schedule.kind, o.schedule.microbatches, inflight,
            to_string(o.schedule.recompute), format_bytes(*o.memory_bytes)));
  }
  StraightResult r;
  r.max_stage_ms = best;
  for (int st = 0; st < stages; ++st) {
    StraightStage x;
    x.first = firsts[st];
    x.last = st + 1 < stages ? firsts[st + 1] - 1 : n - 1;
    x.recompute = recomputes(st, x.first, x.last);
    x.time_ms =
        stage_time(s, o, st, x.first, x.last, n) + (x.recompute ? s.range(s.forward, x.first, x.last) : 0.0);
    x.memory_bytes = stage_memory(s, o, traits, st, x.first, x.last, x.recompute);
    x.in_flight = in_flight_microbatches(traits, st, stages, o.schedule.microbatches);
    r.stages.push_back(x);
  }
  return r;
}

}  // namespace pipekit
