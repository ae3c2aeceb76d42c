// The cost hint a cost-aware schedule generator reads (ScheduleCostHint,
// core/plan.h), filled from what the simulator knows of a plan.
//
// Times: each global stage's forward, input-gradient and weight-gradient ms
// per micro-batch, as simulator/stage_costs.h splits the backward (measured, or
// I = W = B/2 by default); the message between stage s and s+1 is the
// transfer of stage s's output bytes over the cluster level joining their
// devices (0 where both stages share a rank), as the simulator times it.
// Memory: a byte limit per device becomes, per rank, the number of
// chunk-forwards whose activations fit beside the rank's static memory (weights,
// master copy, gradients, optimizer state: simulator/memory_model.h), its
// largest workspace and two boundary buffers, each chunk-forward costing the
// largest activation one of the rank's stages keeps (its input alone when it
// recomputes). The count is at least the rank's chunks: a limit too small for
// that is reported by the simulator (fits_memory), not here. No limit: no cap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/cluster.h"
#include "core/optimizer.h"
#include "core/plan.h"
#include "core/precision.h"
#include "core/profile.h"
#include "simulator/stage_costs.h"

namespace pipekit {

struct CostHintOptions {
  std::int64_t memory_limit_bytes = 0;  // per device; 0: no cap
  Optimizer optimizer = Optimizer::adam;
  Precision precision = Precision::fp32;  // of the costs' bytes
  Recompute recompute = Recompute::never;
  std::vector<int> rank_device;  // cluster device of each rank; empty: rank r on device r
};

// From costs already computed (stage_costs_from_plan, _from_layers,
// synthetic_stage_costs) for schedule `kind` on `num_ranks` ranks, whose
// costs.stages.size() global stages are placed as the kind's traits say.
ScheduleCostHint schedule_cost_hint(const StageCosts& costs, const std::string& kind, int num_ranks,
                                    const Cluster& cluster, const CostHintOptions& options = {});

// From a profile and a plan: the plan's stages, schedule (kind, chunks,
// recompute), precision and cluster; rank r's device is the first replica's
// rank of its stages. memory_limit_bytes < 0: the plan's
// cluster.device_memory_bytes (0 there: no cap).
ScheduleCostHint schedule_cost_hint(const Profile& profile, const Plan& plan,
                                    std::int64_t memory_limit_bytes = -1,
                                    Optimizer optimizer = Optimizer::adam);

}  // namespace pipekit
