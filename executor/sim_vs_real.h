// `pipekit run --compare FILE`: predicts the run with the simulator from a
// profile measured on this machine, then sets the prediction against what the
// run measured: the median step after the first, and the recorded last step's
// timeline for per-rank busy time, bubble and memory.
//
// The work is in three parts: executor/calibration_probes.h measures this
// machine (links, message costs, the optimizer step, sharing),
// simulator/run_prediction.h predicts the run from the profile and those
// numbers, and viz/compare_report.h writes and prints the result;
// docs/sim-vs-real.md has the whole table of what is measured and how.
// Writes FILE (JSON: predicted/measured step time, per-rank busy, bubble, peak
// activation bytes with relative errors (predicted - measured) / measured,
// and every calibration number), the HTML report, and the predicted timeline
// (predicted_timeline_path(FILE)) for `pipekit viz`.
#pragma once

#include <cstdint>
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
  int draws = 200;              // Monte Carlo draws for the predicted spread
  std::uint64_t seed = 2024;    // their seed: the same seed, the same percentiles
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
