// Numbers every picture of a timeline shows: span, per-rank busy/idle compute
// time, bubble fraction, peak memory.
//
// The span is max(step_time_ms, last event end): flush schedules end at the
// step time; asynchronous timelines covering several minibatches may run past
// it. A rank is busy while any compute-stream event (F, B, I, W, R,
// REDUCE_GRAD, STEP) runs on it; idle gaps in [0, span] are its bubble. The
// compute bubble fraction is total idle / (ranks * span).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/timeline.h"

namespace pipekit {

struct Interval {
  double start = 0, end = 0;
};

struct RankSummary {
  int rank = 0;
  double busy_ms = 0, idle_ms = 0;
  double bubble_fraction = 0;     // idle_ms / span
  std::vector<Interval> bubbles;  // idle gaps on the compute stream, in time order
  std::int64_t peak_memory = 0;   // max total over samples; 0 when none
  double peak_time_ms = 0;
  MemorySample peak_sample;  // the sample at the peak
  int compute_events = 0;
};

struct TimelineSummary {
  double span_ms = 0;
  double step_time_ms = 0;                 // as recorded, or span when 0
  double bubble_fraction = 0;              // over all ranks
  std::vector<RankSummary> ranks;          // one per rank 0..num_ranks-1
  std::int64_t peak_memory = 0;            // max over ranks
  std::optional<double> samples_per_step;  // meta "samples_per_step" or "global_batch_size"
  // meta "time_per_minibatch_ms": the steady-state time of one minibatch, which
  // for asynchronous schedules is shorter than the simulated span.
  std::optional<double> time_per_minibatch_ms;
  // samples_per_step / (time_per_minibatch or step time)
  std::optional<double> throughput_samples_per_s;
};

// Gaps of [0, span] not covered by `busy` (any order, may overlap); gaps shorter
// than 1e-9 ms are dropped.
std::vector<Interval> idle_gaps(std::vector<Interval> busy, double span);

TimelineSummary summarize(const Timeline& t);

}  // namespace pipekit
