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

struct ScheduleSpec {
  std::string kind = "1f1b";  // naive gpipe 1f1b interleaved pipedream 2bw zb-h1 zb-h2 zbv
  int microbatches = 1;
  int virtual_stages = 1;  // chunks per rank (interleaved: v, zbv: 2)
  Recompute recompute = Recompute::never;
  // Per global stage: true recomputes that stage's forward before its backward.
  // Empty: `recompute` decides for every stage; non-empty: it overrides
  // `recompute` and has one entry per global stage (selective recomputation,
  // chosen by the plan search where a stage's activations would not fit).
  std::vector<bool> recompute_stages;
  int minibatches = 1;  // for asynchronous schedules: minibatches simulated in a row
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
