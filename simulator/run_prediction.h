// The prediction of a measured run (`pipekit run --compare`): the run's stage
// costs and schedule simulated with what the probes measured
// (simulator/run_calibration.h). No LibTorch; executor/sim_vs_real.h calls it.
//
//  - messages: latency and bandwidth of the link; on a shared CPU the latency
//    a waiting rank sees while the others compute. Each message end costs
//    processor time (LogGP's overhead): on a shared CPU the line
//    base + per_byte * bytes fitted over the loaded probe's size sweep, each
//    message charged for its own bytes; otherwise (or without scheduler
//    statistics) half the idle ping-pong's per-message time. NCCL's copies
//    cost none.
//  - asynchronous streams (steady_from >= 0): the spread and the run-calibrated
//    step are steady windows from that micro-batch (simulator/steady_window.h),
//    the first minibatch's warm-up left out as synchronous runs drop step 1.
//  - spread: p10/p50/p90 of the step from a seeded Monte Carlo over the
//    probes' samples (simulator/prediction_spread.h): compute noise from the
//    co-run probe, message delays from the loaded-message probe, and the
//    machine's speed over the measured span (`measured_windows` steps of the
//    predicted length, or the one steady window) from the probe's speed series.
//  - optimizer step: the largest stage's measured step scaled to each stage
//    by its weight bytes (memory-bound passes over the weights), plus, for
//    asynchronous schedules, three weight copies (gradients to the master
//    weights, zeroing, the new version) at the measured copy speed.
//  - sharing: ranks on one processor are one shared device of the capacity
//    the co-run probe measured (simulator/shared_device.h).
//  - activation memory: the executor-order replay (simulator/memory_model.h),
//    plus the stashed weight versions of asynchronous schedules.
#pragma once

#include <cstdint>
#include <vector>

#include "core/optimizer.h"
#include "core/schedule.h"
#include "core/timeline.h"
#include "simulator/prediction_spread.h"
#include "simulator/run_calibration.h"
#include "simulator/shared_device.h"
#include "simulator/simulator.h"

namespace pipekit {

struct RunPrediction {
  StageCosts costs;  // the stages' costs as simulated (each stage's step included)
  SimOptions options;
  Cluster cluster;                             // as simulated (a shared CPU's loaded latency included)
  SharedSimulation simulation;                 // the prediction
  double dedicated_step_ms = 0;                // a device per rank, idle-processor messages
  double message_overhead_ms = 0;              // per message end, as charged (the line's base)
  double message_overhead_per_byte_ms = 0;     // and its slope
  StepSpread spread;                           // Monte Carlo percentiles of the step
  std::vector<std::int64_t> activation_peaks;  // per rank: executor-order replay + stashed versions
  std::vector<std::int64_t> simulator_peaks;   // per rank: the simulator's own memory timeline
};

// `base`: the profile's costs over the run's split (received inputs counted
// in saved bytes, simulator/memory_model.h's count_received_inputs).
RunPrediction predict_run(const Schedule& sch, const StageCosts& base, const RunCalibration& cal,
                          int microbatch_rows, Optimizer optimizer, Precision precision = Precision::fp32,
                          int draws = 200, std::uint64_t seed = 2024, int steady_from = -1,
                          int measured_windows = 1);

// Processor time of one message end of `bytes` as the prediction charges it.
double message_end_ms(const RunPrediction& p, std::int64_t bytes);

// The same model calibrated on the run itself: compute stretched by what the
// run's compute events took over what the model says, and messages delayed
// by the mean delivery delay the run showed. Not a prediction: it tells how
// much of a miss is the machine's varying load rather than the model.
struct RunCalibrated {
  double compute_stretch = 1;
  double message_delay_s = 0;
  double step_ms = 0;
};
RunCalibrated calibrate_on_run(const Schedule& sch, const RunPrediction& p, const RunCalibration& cal,
                               const Timeline& measured, int steady_from = -1);

}  // namespace pipekit
