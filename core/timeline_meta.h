// What a timeline's meta records, by name, and typed access to it: the one
// place that spells the keys. Measured timelines carry per-rank records
// ("<what>.rank<R>", written by each rank, merged by core/timeline_merge.h)
// and run-level ones; predicted ones carry what the simulator adds.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/timeline.h"

namespace pipekit {

// Written by each rank of a measured run.
enum class RankMeta {
  peak_activation_bytes,  // the rank's peak bytes above the step's start
  page_faults,            // minor page faults inside the measured step
  device,                 // "gpu-index identity host" (executor/gpu_transport.h)
  other_threads_cpu_ms,   // processor time of the rank's other threads (the transport's) in the step
  step_spans,             // every step's origin and end (core/timeline_merge.h)
  clock                   // "<clock id> <origin ns>" of the recorded step (core/timeline_merge.h)
};

// Run-level records.
enum class RunMeta {
  clock,                  // "one" or "per-rank" (merged timelines)
  step_times_ms,          // every step's span over the ranks, "t1 t2 ..." (merged timelines)
  model,                  // model name
  device,                 // cpu | cuda
  transport,              // executor/gpu_transport.h's to_string
  method,                 // how activation bytes were measured
  samples_per_step,       // samples one step trains on (the report's throughput)
  time_per_minibatch_ms,  // predicted: an asynchronous schedule's steady time per minibatch
  optimizer,              // predicted: the optimizer the memory model assumed
  asynchronous,           // predicted: "true" for pipedream and 2bw
  step_spread_ms          // predicted: the step's "p10 p50 p90" from the Monte Carlo (prediction_spread.h)
};

std::string meta_key(RankMeta what, int rank);  // e.g. "page_faults.rank2"
std::string_view meta_key(RunMeta what);        // e.g. "step_times_ms"
// The prefix every rank's key of `what` starts with, e.g. "clock.rank".
std::string_view meta_prefix(RankMeta what);

void set_meta(Timeline& t, RankMeta what, int rank, std::string value);
void set_meta(Timeline& t, RunMeta what, std::string value);

std::optional<std::string> get_meta(const Timeline& t, RankMeta what, int rank);
std::optional<std::string> get_meta(const Timeline& t, RunMeta what);

// A number recorded under `key`: nullopt where the key is missing; an
// InputError naming the key where the value is not a finite non-negative number.
std::optional<double> meta_number(const Timeline& t, const std::string& key);
std::optional<double> meta_number(const Timeline& t, RankMeta what, int rank);
std::optional<double> meta_number(const Timeline& t, RunMeta what);

}  // namespace pipekit
