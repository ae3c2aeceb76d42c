// Ranks that share one processor: several pipeline ranks on one GPU (CUDA
// time-slices between processes) or on cores whose arithmetic units they
// share (two vCPUs of one physical core). The plain simulator gives every rank
// its own device; here, while k ranks of a group compute at once, each runs at
// min(1, capacity / k) of its own speed (processor sharing); a step-level
// action (STEP) runs at min(1, step_capacity / k), k counting every computing
// rank of the group. capacity = 1 means
// the group computes no faster than one rank alone; capacity >= group size
// means no contention. Measure it with `pipekit corun` (executor/corun_probe.h).
//
// simulate_shared() finds the fixed point of per-action slowdowns: simulate,
// give each compute action the slowdown it saw (the harmonic mean of
// max(1, k/capacity) over its interval, so its progress equals its work), and
// simulate again with those durations, damped, until the step time moves less
// than 1e-4 relative (at most 200 rounds). Without groups, or with enough
// capacity, the result equals simulate()'s.
#pragma once

#include <vector>

#include "simulator/simulator.h"

namespace pipekit {

struct SharedDevice {
  std::vector<int> ranks;  // ranks sharing it (each rank in at most one group)
  double capacity = 1;     // ranks' worth of full-speed compute it sustains
  // The same for step-level actions (optimizer STEP, gradient all-reduce):
  // memory-bound passes over the weights, which share a memory bus worse than
  // matrix products share cores. 0: as `capacity`.
  double step_capacity = 0;
};

// Ranks 0..ranks-1 all on one device (the cores of one machine, or one
// time-sliced GPU) of this capacity.
SharedDevice shared_by_all(int ranks, double capacity, double step_capacity = 0);

struct SharedSimulation {
  SimulationResult result;
  int rounds = 0;                // simulations run
  bool converged = false;        // false: stopped at the round limit (result is the last round)
  double dedicated_step_ms = 0;  // the same schedule with a device per rank
};

// Throws InputError for a rank outside the schedule or in two groups, or a
// capacity that is not positive; otherwise as simulate().
SharedSimulation simulate_shared(const Schedule& schedule, const StageCosts& costs, const Cluster& cluster,
                                 const SimOptions& options, const std::vector<SharedDevice>& devices);

}  // namespace pipekit
