// `pipekit run --compare FILE`: predicts the run with the simulator from a
// profile measured on this machine, then sets the prediction against what the
// run measured: the median step after the first, and the recorded last step's
// timeline for per-rank busy time, bubble and memory.
//
// What the simulator is given, and how each number is obtained
// (docs/sim-vs-real.md has the whole table):
//  - stage costs: the profile (measured now with the run's micro-batch, seq and
//    threads, or --profile) summed over the run's exact layer split; the
//    stage's saved bytes also include its received input when the previous
//    stage is on another rank (the runtime keeps that buffer until B).
//  - links: latency and bandwidth of Gloo over loopback from an in-process
//    ping-pong; the processor time per message (LogP's overhead) from a
//    ping-pong at the run's message size; on a shared CPU the latency a
//    waiting rank sees while the other computes.
//  - optimizer step: timed on the parameters of the largest stage and scaled
//    to each stage by its weight bytes (plus the weight copies of
//    asynchronous schedules at the measured copy speed).
//  - message overhead on a shared CPU: the larger of the idle ping-pong's and
//    the loaded probe's transport processor time per message.
//  - sharing: ranks on one CPU or GPU are simulated as one shared device of
//    the capacity the co-run probe measures (simulator/shared_device.h).
//  - activation memory: the executor's rules replayed over each rank's action
//    list in order (saved bytes per micro-batch in flight, receive buffers from
//    posting to use, sent tensors held until the step ends, workspace during
//    F/B, the optimizer's transient bytes at STEP); the simulator's own memory
//    peak is reported next to it.
//  - run-calibrated step: the same simulation with the compute stretch and the
//    mean message delay the run itself showed (says how much of a miss is the
//    machine's load rather than the model; not a prediction).
// Writes FILE (JSON: predicted/measured step time, per-rank busy, bubble, peak
// activation bytes with relative errors (predicted - measured) / measured,
// and every calibration number), the HTML report, and the predicted timeline
// (predicted_timeline_path(FILE)) for `pipekit viz`.
#pragma once

#include <string>

#include "executor/run_config.h"

namespace pipekit {

struct CompareOptions {
  std::string out;              // JSON result
  std::string html;             // report; empty: `out` with .html
  std::string profile_path;     // given profile (pipekit JSON); empty: profile now
  int repeat = 5;               // profiler rounds
  double capacity = 0;          // > 0: shared-device capacity to use instead of the co-run probe
  double corun_window_s = 1.5;  // co-run probe window
};

// Where the ranks write the measured timeline when --timeline is not given.
std::string compare_timeline_path(const std::string& out);

// Where --compare writes the predicted timeline: FILE.predicted-timeline.json.
std::string predicted_timeline_path(const std::string& out);

// Throws InputError when the options cannot work (e.g. a single step, whose
// timeline includes warm-up). Call before the ranks start.
void check_compare_options(const RunConfig& c, const CompareOptions& o);

// Runs after the ranks finished (in the launching process): profiles,
// calibrates, simulates, compares, writes o.out and the HTML report, prints a
// table. Returns 0.
int compare_with_simulation(const RunConfig& c, const CompareOptions& o);

}  // namespace pipekit
