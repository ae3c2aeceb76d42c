// A plan: how a profiled model is split into stages, where each stage runs,
// and which schedule drives it. Produced by the planner, replayed by the
// simulator, executed by the executor.
//
// Stages are global (virtual) stages in pipeline order; each holds a set of
// layer indices of the profile (contiguous for chains) and the ranks of its
// replicas. With v virtual stages per rank there are ranks * v stages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/cluster.h"
#include "core/precision.h"

namespace pipekit {

enum class Recompute { never, except_last, always };
std::string to_string(Recompute r);
bool recompute_from_string(const std::string& s, Recompute& out);

// What a cost-aware generator (the zero-bubble family) may know of the model:
// per global stage the forward, input-gradient and weight-gradient time of one
// micro-batch, the time of one message from stage s to s+1 (activation forward,
// the same size of gradient back; 0 where both stages share a rank), and a
// memory cap per rank as pending backward passes (chunk-forwards whose W has
// not run). Without costs (forward_ms empty) generators assume F = I = W and
// free messages; a cap of 0 (or no entry) is the schedule's own default.
// planner/schedule_costs.h fills it from a profile.
struct ScheduleCostHint {
  std::vector<double> forward_ms, input_grad_ms, weight_grad_ms;  // size stages, or all empty
  std::vector<double> message_ms;                                 // size stages - 1, or empty: free
  std::vector<int> max_pending_backward;                          // size ranks, or empty: defaults

  bool has_costs() const { return !forward_ms.empty(); }
  bool has_cap() const;
  bool empty() const { return !has_costs() && max_pending_backward.empty() && message_ms.empty(); }
  // The cap of `rank`, or 0 (the default) when none is set.
  int cap(int rank) const;
  bool operator==(const ScheduleCostHint&) const = default;
};

// Throws InputError(source, "$.schedule.cost_hint...") for vectors of the wrong
// size for `stages` stages (or `ranks` ranks; < 0: not checked), negative or
// non-finite times, and negative caps.
void validate(const ScheduleCostHint& h, int stages, int ranks, const std::string& source);

struct ScheduleSpec {
  std::string kind = "1f1b";  // a name of core/schedule_traits.h's table
  int microbatches = 1;
  int virtual_stages = 1;  // chunks per rank (interleaved: v, zbv: 2)
  Recompute recompute = Recompute::never;
  // Per global stage: true recomputes that stage's forward before its backward.
  // Empty: `recompute` decides for every stage; non-empty: it overrides
  // `recompute` and has one entry per global stage (selective recomputation,
  // chosen by the plan search where a stage's activations would not fit).
  std::vector<bool> recompute_stages;
  int minibatches = 1;         // for asynchronous schedules: minibatches simulated in a row
  ScheduleCostHint cost_hint;  // empty: unit costs
};

struct PlanStage {
  std::vector<int> layers;  // profile layer indices
  int replicas = 1;
  std::vector<int> ranks;  // size replicas
};

struct Plan {
  std::string model;
  std::string profile_path;  // where the profile came from (informational)
  int microbatch_size = 0;
  std::string cost_model = "pipekit";     // pipekit | pipedream
  Precision precision = Precision::fp32;  // what it trains in, and its memory was planned for
  std::vector<PlanStage> stages;
  ScheduleSpec schedule;
  Cluster cluster;
  std::map<std::string, double> predicted;  // e.g. step_time_ms, time_per_minibatch_s

  int num_ranks() const;  // distinct ranks over all stages
};

// Throws InputError for: no stages, a stage with no layers, replicas != ranks.size(),
// negative ranks, unknown schedule kind, microbatches < 1, virtual_stages < 1, and
// (when num_layers >= 0) layers out of range or assigned twice or left out.
void validate(const Plan& p, const std::string& source, int num_layers = -1);

}  // namespace pipekit
