// The spread of a predicted step time: a seeded Monte Carlo over measured
// overhead distributions, so a prediction says how far a run may land from it.
//
// Each draw simulates the schedule once with
//  - every compute action's duration multiplied by a factor drawn from
//    `compute_noise` (an iteration's time over the median of its kind, as the
//    co-run probe measured them while the ranks shared the machine), the
//    factors rescaled to mean 1 (the mean slowdown is the shared-device
//    model's: the draws add only the spread);
//  - every message held back by a delivery delay drawn from `delay_ms` (the
//    loaded-message probe's waits beyond the send; empty: none) and costing
//    its receiver a wait drawn from `receive_wait_ms` (the late-receive
//    probe's; empty: SimOptions::receive_wait_ms for every message);
// and the shared-device model when groups are given.
//
// The machine's speed: a virtual machine's cores run at varying speed
// (states that last a few hundred milliseconds; docs/sim-vs-real.md), so a
// short run lands in a few of them. With `speed_series` (relative times in
// time order, one sample per speed_sample_ms) and speed_window_ms > 0, each
// draw also picks, per rank, one series and a start in it (a circular block bootstrap:
// the states' length is kept), takes speed_windows consecutive windows of
// speed_window_ms, each window's mean, and multiplies every compute action
// of that rank by the median of those means over the series' mean (the
// measured value is the median of that many steps; the reference speed is
// the mean, as the co-run rates are). Each rank draws its own series and
// start: ranks sit on different cores, whose states differ (one rank of a
// run can compute 1.7x slower than the other for the whole run).
//
// Draws are independent (bootstrap from the samples). The result's percentiles are nearest-rank
// over `draws` simulations; the same seed gives the same numbers. With
// SpreadInputs::steady_from, the numbers are steady windows instead of steps.
// Cost: draws x (shared-device rounds x simulate()).
#pragma once

#include <cstdint>
#include <vector>

#include "simulator/shared_device.h"
#include "simulator/simulator.h"

namespace pipekit {

struct SpreadInputs {
  std::vector<double> compute_noise;  // relative factors, median about 1; empty: no compute noise
  std::vector<double> delay_ms;       // per-message delivery delays; empty: no drawn delay
  std::vector<double>
      receive_wait_ms;  // per-message waits after a late receiver arrives; empty: the options'
  int draws = 200;
  std::uint64_t seed = 2024;
  // >= 0: each draw's value is the steady window from this micro-batch
  // (simulator/steady_window.h: asynchronous streams), not the whole step.
  int steady_from = -1;
  std::vector<std::vector<double>> speed_series;  // relative times in time order; empty: no speed draws
  std::vector<double> speed_sample_ms;            // per series: the time one sample stands for
  double speed_window_ms = 0;                     // one measured window (a step); <= 0: no speed draws
  int speed_windows = 1;                          // consecutive windows whose median is measured
};

struct StepSpread {
  double p10_ms = 0, p50_ms = 0, p90_ms = 0, mean_ms = 0;
  double speed_p10 = 1, speed_p90 = 1;  // the speed factors drawn (over ranks and draws): p10, p90; 1: none
  std::vector<double> steps_ms;         // every draw, sorted
};

// Throws InputError when draws < 1 or a sample is negative or not finite.
StepSpread predict_spread(const Schedule& schedule, const StageCosts& costs, const Cluster& cluster,
                          const SimOptions& options, const std::vector<SharedDevice>& shared,
                          const SpreadInputs& in);

// The speed factor of one draw: the median over `windows` consecutive windows,
// from sample `start` of `series` (circularly), of each window's mean relative
// time, over the series' mean. Throws InputError on an empty series or a
// non-positive sample time.
double speed_factor(const std::vector<double>& series, double sample_ms, double window_ms, int windows,
                    std::size_t start);

// Nearest-rank percentile q in [0, 1] of sorted values (0 when empty).
double percentile(const std::vector<double>& sorted, double q);

}  // namespace pipekit
