// Uses pipekit as an installed library, as another C++ project would: load a
// profile, plan it with PipeDream's dynamic program, generate and lower a
// schedule, and simulate it.
#include <cstdio>

#include "core/profile.h"
#include "passes/lowering.h"
#include "planner/pipedream_dp.h"
#include "planner/schedule_generator.h"
#include "profiles/pipedream_graph.h"
#include "simulator/simulator.h"
#include "simulator/stage_costs.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pipekit::Profile p = pipekit::load_profile(argv[1]);
  pipekit::ProfileTotals t = pipekit::totals(p);
  std::printf("layers %d forward %.2f ms\n", t.layers, t.forward_ms);

  pipekit::PipeDreamOptions dp;
  dp.machines = {4};
  dp.bandwidths = {1e9};
  dp.cost_model = pipekit::CostModel::pipedream;
  pipekit::DpResult plan = pipekit::pipedream_partition(p, dp);
  std::printf("dp stages %zu first replicas %d time per minibatch %.6f s\n", plan.stages.size(),
              plan.stages.front().replicas, plan.time_per_minibatch_s);

  pipekit::ScheduleSpec spec;
  spec.kind = "1f1b";
  spec.microbatches = 8;
  pipekit::Schedule s = pipekit::lower_schedule(pipekit::generate_schedule(spec, 4));
  pipekit::SimOptions opt;
  opt.record_timeline = false;
  auto res =
      pipekit::simulate(s, pipekit::synthetic_stage_costs(4, 1, 1.0, 2.0), pipekit::free_cluster(4), opt);
  std::printf("simulated 1f1b step %.1f ms\n", res.metrics.step_time_ms);
  std::printf("consumer ok\n");
  return 0;
}
