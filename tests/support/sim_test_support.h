// Shared helpers for the simulator tests: generated schedules with synthetic costs.
#pragma once

#include "core/plan.h"
#include "passes/lowering.h"
#include "planner/schedule_generator.h"
#include "simulator/simulator.h"
#include "tests/support/make_schedule.h"

namespace pipekit::test {

inline SimulationResult run_synthetic(const Schedule& s, double f, double b, double w = -1,
                                      SimOptions opt = {}) {
  StageCosts c = synthetic_stage_costs(s.num_ranks, s.num_stages / s.num_ranks, f, b, w);
  return simulate(s, c, free_cluster(s.num_ranks), opt);
}

}  // namespace pipekit::test
