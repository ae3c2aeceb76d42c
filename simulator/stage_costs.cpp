#include "simulator/stage_costs.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/schedule_traits.h"

namespace pipekit {
namespace {

// Producer -> consumer pairs: the profile's edges, or the chain when it has none.
std::vector<std::pair<int, int>> layer_edges(const Profile& p) {
  if (!p.edges.empty()) return p.edges;
  std::vector<std::pair<int, int>> e;
  for (int i = 0; i + 1 < static_cast<int>(p.layers.size()); ++i) e.emplace_back(i, i + 1);
  return e;
}

StageCosts build(const Profile& profile, const std::vector<std::vector<int>>& stage_layers, double scale,
                 const std::string& source) {
  const int n = static_cast<int>(profile.layers.size());
  std::vector<int> stage_of(n, -1);
  for (std::size_t s = 0; s < stage_layers.size(); ++s)
    for (int l : stage_layers[s]) {
      if (l < 0 || l >= n)
        throw InputError(source, fmt::format("stage {}", s),
                         fmt::format("layer {} does not exist; the profile has layers 0..{}", l, n - 1));
      stage_of[l] = static_cast<int>(s);
    }
  StageCosts out;
  out.stages.resize(stage_layers.size());
  bool all_split = true;
  for (std::size_t s = 0; s < stage_layers.size(); ++s) {
    StageCost& c = out.stages[s];
    double input_grad = 0, weight_grad = 0, step = 0;
    bool split = true;
    for (int l : stage_layers[s]) {
      const Layer& L = profile.layers[l];
      c.forward_ms += L.forward_ms;
      c.backward_ms += L.backward_ms;
      if (L.input_grad_ms && L.weight_grad_ms) {
        input_grad += *L.input_grad_ms;
        weight_grad += *L.weight_grad_ms;
      } else {
        split = false;
      }
      c.param_bytes += L.param_bytes;
      step += L.step_ms.value_or(0.0);
      c.saved_bytes += L.saved_bytes;
      c.workspace_bytes = std::max(c.workspace_bytes, L.workspace_bytes);
    }
    if (!split || stage_layers[s].empty()) {
      all_split = false;
      input_grad = c.backward_ms * kDefaultInputGradShare;
      weight_grad = c.backward_ms - input_grad;
    }
    c.forward_ms *= scale;
    c.backward_ms *= scale;
    c.input_grad_ms = input_grad * scale;
    c.weight_grad_ms = weight_grad * scale;
    c.recompute_ms = c.forward_ms;
    // The optimizer's pass over the stage's weights: once per update, whatever the micro-batch.
    if (!profile.optimizer.empty()) c.step_ms = step;
    c.saved_bytes = static_cast<std::int64_t>(std::llround(static_cast<double>(c.saved_bytes) * scale));
    c.workspace_bytes =
        static_cast<std::int64_t>(std::llround(static_cast<double>(c.workspace_bytes) * scale));
  }
  out.measured_split = all_split && !stage_layers.empty();
  // Boundary traffic: a producer's output counts once per consuming stage.
  std::vector<std::int64_t> out_bytes(stage_layers.size(), 0), in_bytes(stage_layers.size(), 0);
  std::set<std::pair<int, int>> seen;  // (producer, consumer stage), to count each once
  for (auto [a, b] : layer_edges(profile)) {
    if (a < 0 || b < 0 || a >= n || b >= n) continue;
    int sa = stage_of[a], sb = stage_of[b];
    if (sa < 0 || sb < 0 || sa == sb) continue;
    if (!seen.emplace(a, sb).second) continue;
    out_bytes[sa] += profile.layers[a].output_bytes;
    in_bytes[sb] += profile.layers[a].output_bytes;
  }
  if (!stage_layers.empty()) in_bytes[0] += profile.input_bytes;
  for (std::size_t s = 0; s < stage_layers.size(); ++s) {
    out.stages[s].output_bytes =
        static_cast<std::int64_t>(std::llround(static_cast<double>(out_bytes[s]) * scale));
    out.stages[s].input_bytes =
        static_cast<std::int64_t>(std::llround(static_cast<double>(in_bytes[s]) * scale));
  }
  return out;
}

double microbatch_scale(const Profile& profile, int microbatch_size) {
  if (microbatch_size > 0 && profile.microbatch_size > 0 && microbatch_size != profile.microbatch_size)
    return static_cast<double>(microbatch_size) / profile.microbatch_size;
  return 1.0;
}

}  // namespace

double ring_allreduce_ms(const Cluster& cluster, const std::vector<int>& ranks, double bytes) {
  const int n = static_cast<int>(ranks.size());
  if (n < 2) return 0;
  // The ring is as slow as its slowest hop: the widest level joining rank 0 to any other.
  int a = ranks[0], b = ranks[1], widest = -1;
  for (std::size_t i = 1; i < ranks.size(); ++i) {
    int level = cluster.level_joining(a, ranks[i]);
    if (level > widest) widest = level, b = ranks[i];
  }
  double message_s = cluster.transfer_seconds(a, b, bytes / n);
  return 2.0 * (n - 1) * message_s * 1000.0;
}

StageCosts stage_costs_from_layers(const Profile& profile, const std::vector<std::vector<int>>& stage_layers,
                                   int microbatch_size) {
  return build(profile, stage_layers, microbatch_scale(profile, microbatch_size), "--stages");
}

void apply_replicas(StageCost& c, const ScheduleTraits* t, int stage, int stages, int microbatches, int r) {
  c.replicas = std::max(1, r);
  if (r <= 1) return;
  // Replicas work in parallel, so one simulated rank stands for all of them,
  // r times faster.
  for (double* x : {&c.forward_ms, &c.backward_ms, &c.input_grad_ms, &c.weight_grad_ms, &c.recompute_ms})
    *x /= r;
  // Replicas update in parallel: once per step each (flush, 2bw), or after
  // each of their own micro-batches (pipedream), so the one simulated rank's
  // update per micro-batch costs a replica's r times less.
  if (c.step_ms > 0 && t && t->update == WeightUpdate::every_microbatch) c.step_ms /= r;
  if (!t) return;
  // The activation bytes one replica holds and sends (core/schedule_traits.h):
  // a flush schedule's replicas each take a share of every micro-batch, with
  // its workspace; an asynchronous schedule's take whole micro-batches in
  // turn and run each whole (workspace unchanged).
  const ReplicaShare share = replica_activation_share(*t, stage, stages, microbatches, r);
  for (std::int64_t* b : {&c.saved_bytes, &c.output_bytes, &c.input_bytes})
    *b = (*b * share.num + share.den - 1) / share.den;
  if (!t->asynchronous()) c.workspace_bytes = (c.workspace_bytes + r - 1) / r;
}

StageCosts stage_costs_from_plan(const Profile& profile, const Plan& plan) {
  std::vector<std::vector<int>> layers;
  for (const auto& st : plan.stages) layers.push_back(st.layers);
  StageCosts out = build(profile, layers, microbatch_scale(profile, plan.microbatch_size), "plan");
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const PlanStage& st = plan.stages[s];
    apply_replicas(out.stages[s], find_schedule(plan.schedule.kind), static_cast<int>(s),
                   static_cast<int>(plan.stages.size()), plan.schedule.microbatches,
                   std::max(1, st.replicas));
    if (st.ranks.size() > 1)
      out.stages[s].allreduce_ms =
          ring_allreduce_ms(plan.cluster, st.ranks, static_cast<double>(out.stages[s].param_bytes));
  }
  return out;
}

StageCosts synthetic_stage_costs(int ranks, int virtual_stages, double forward_ms, double backward_ms,
                                 double weight_grad_ms, std::int64_t activation_bytes,
                                 std::int64_t saved_bytes, std::int64_t param_bytes) {
  if (ranks < 1 || virtual_stages < 1)
    throw InputError("--synthetic", "", "need at least one rank and one virtual stage per rank");
  if (!(forward_ms >= 0) || !(backward_ms >= 0) || !std::isfinite(forward_ms) || !std::isfinite(backward_ms))
    throw InputError("--fwd/--bwd", "", "times must be finite and >= 0 ms");
  bool measured = weight_grad_ms >= 0;
  if (!measured) weight_grad_ms = backward_ms * (1.0 - kDefaultInputGradShare);
  if (weight_grad_ms > backward_ms)
    throw InputError("--wgrad", "",
                     fmt::format("the weight-gradient part ({} ms) cannot exceed the full backward ({} ms)",
                                 weight_grad_ms, backward_ms));
  const double v = virtual_stages;
  StageCost c;
  c.forward_ms = forward_ms / v;
  c.backward_ms = backward_ms / v;
  c.weight_grad_ms = weight_grad_ms / v;
  c.input_grad_ms = c.backward_ms - c.weight_grad_ms;
  c.recompute_ms = c.forward_ms;
  c.output_bytes = activation_bytes;
  c.input_bytes = activation_bytes;
  c.saved_bytes = saved_bytes;
  c.param_bytes = param_bytes;
  StageCosts out;
  out.stages.assign(static_cast<std::size_t>(ranks) * virtual_stages, c);
  out.stages.back().output_bytes = 0;
  out.measured_split = measured;
  return out;
}

}  // namespace pipekit
