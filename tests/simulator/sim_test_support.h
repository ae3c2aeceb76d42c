// Shared helpers for the simulator tests: generated schedules with synthetic costs.
#pragma once

#include "core/plan.h"
#include "planner/lowering.h"
#include "planner/schedule_generator.h"
#include "simulator/simulator.h"

namespace pipekit::test {

inline Schedule make_schedule(const std::string& kind, int p, int m, int v = 1,
                              Recompute rc = Recompute::never, int minibatches = 1) {
  ScheduleSpec spec;
  spec.kind = kind;
  spec.microbatches = m;
  spec.virtual_stages = v;
  spec.recompute = rc;
  spec.minibatches = minibatches;
  return generate_schedule(spec, p);
}

inline SimulationResult run_synthetic(const Schedule& s, double f, double b, double w = -1,
                                      SimOptions opt = {}) {
  StageCosts c = synthetic_stage_costs(s.num_ranks, s.num_stages / s.num_ranks, f, b, w);
  return simulate(s, c, free_cluster(s.num_ranks), opt);
}

}  // namespace pipekit::test
