// What one micro-batch costs on each global (virtual) stage: the simulator's
// only view of the model.
//
// Times are milliseconds per micro-batch, sizes bytes. backward_ms is the full
// backward; input_grad_ms + weight_grad_ms == backward_ms. When a profile does not
// record the split, the documented default is I = W = B/2 (kDefaultInputGradShare).
// recompute_ms == forward_ms (a recomputation replays the stage forward).
// output_bytes is the activation sent to the next stage, input_bytes the stage's
// input (what recomputation keeps), saved_bytes what a forward keeps until its
// backward. allreduce_ms is the ring all-reduce of the stage's gradients among its
// replicas (0 without replicas). step_ms is the stage's optimizer step, summed
// from the profile's per-layer step_ms when it names an optimizer.
#pragma once

#include <cstdint>
#include <vector>

#include "core/cluster.h"
#include "core/plan.h"
#include "core/profile.h"
#include "core/schedule_traits.h"

namespace pipekit {

inline constexpr double kDefaultInputGradShare = 0.5;  // I = 0.5 B when unmeasured

struct StageCost {
  double forward_ms = 0;
  double backward_ms = 0;
  double input_grad_ms = 0;
  double weight_grad_ms = 0;
  double recompute_ms = 0;
  double allreduce_ms = 0;
  std::int64_t output_bytes = 0;
  std::int64_t input_bytes = 0;
  std::int64_t param_bytes = 0;
  std::int64_t saved_bytes = 0;
  std::int64_t workspace_bytes = 0;
  int replicas = 1;
  double step_ms = -1;  // this stage's optimizer step; < 0: SimOptions::step_ms (one cost for all)
};

struct StageCosts {
  std::vector<StageCost> stages;  // index = global stage
  bool measured_split = false;    // I/W split came from the profile (else the default)
};

// Sums the profile's layers over each plan stage. When both the plan and the
// profile record a micro-batch size and they differ, times and activation sizes
// scale linearly with the ratio (an approximation: kernels rarely scale exactly).
// Boundary bytes follow the profile's edges (a chain when it has none): a
// stage's output is what its layers send to layers of other stages; its input
// is what it receives (stage 0: profile.input_bytes). A stage with r replicas
// is simulated as one rank r times faster (replicas take micro-batches in turn,
// as in PipeDream's cost model) that also pays the ring all-reduce of its
// gradients over the plan's cluster; under a flush schedule, which splits each
// micro-batch among the replicas, its activation and message bytes are one
// replica's share (1/r). Throws InputError
// when a stage names a layer the profile lacks.
StageCosts stage_costs_from_plan(const Profile& profile, const Plan& plan);

// Turns one replica's cost `c` of stage `stage` (of `stages`, `microbatches`
// per step) into the one simulated rank that stands for its r replicas: times
// / r, and the step / r under per-micro-batch updates. Flush schedules split
// each micro-batch, so its bytes / r; asynchronous ones deal whole
// micro-batches in turn, so a replica keeps ceil(k / r) of the k micro-batches
// the stage has in flight: saved and message bytes x ceil(k/r)/k. t null (a
// schedule read from a file): times only.
void apply_replicas(StageCost& c, const ScheduleTraits* t, int stage, int stages, int microbatches, int r);

// Same from bare layer lists (one per global stage), no replicas.
StageCosts stage_costs_from_layers(const Profile& profile, const std::vector<std::vector<int>>& stage_layers,
                                   int microbatch_size = 0);

// Synthetic equal stages: each of `ranks` ranks costs forward_ms / backward_ms
// (full) per micro-batch, of which weight_grad_ms is the weight part (< 0: the
// default B/2), split equally over `virtual_stages` chunks. Every stage sends
// activation_bytes forward (and the same bytes of gradient back), keeps
// saved_bytes per micro-batch and holds param_bytes of weights.
StageCosts synthetic_stage_costs(int ranks, int virtual_stages, double forward_ms, double backward_ms,
                                 double weight_grad_ms = -1, std::int64_t activation_bytes = 0,
                                 std::int64_t saved_bytes = 0, std::int64_t param_bytes = 0);

// Seconds-free helper: ring all-reduce of `bytes` among `ranks` devices of `cluster`,
// in ms: 2 (n-1) messages of bytes/n over the slowest level joining them.
double ring_allreduce_ms(const Cluster& cluster, const std::vector<int>& ranks, double bytes);

}  // namespace pipekit
