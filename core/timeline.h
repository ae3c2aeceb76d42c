// What happened (measured) or will happen (predicted) during a step, per rank.
//
// Events are intervals on a rank's stream: compute (F, B, I, W, R, STEP,
// REDUCE_GRAD), send or recv. Memory samples give each rank's bytes by term at
// a point in time; the value holds until the next sample of that rank. Times
// are milliseconds from the start of the step. The simulator and the executor
// both write this, so predicted and measured runs compare directly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/action.h"

namespace pipekit {

enum class Stream : std::uint8_t { compute, send, recv };
std::string_view to_string(Stream s);
bool stream_from_string(std::string_view s, Stream& out);

struct TimelineEvent {
  int rank = 0;
  Stream stream = Stream::compute;
  Action action;
  double start_ms = 0, end_ms = 0;
  int peer = -1;            // other rank of a send/recv
  std::int64_t bytes = 0;   // payload of a send/recv
  int weight_version = -1;  // weight version used (asynchronous schedules), -1 if n/a
  // The processor's own work in a compute event: measured, the computing
  // thread's CPU time (one compute thread on the CPU); predicted, the action's
  // cost before the shared-device stretch. -1: not known. The event's span
  // minus it is time spent waiting for a core.
  double work_ms = -1;
};

struct MemorySample {
  int rank = 0;
  double time_ms = 0;
  std::int64_t weights = 0;  // all weight versions kept (working precision)
  std::int64_t master = 0;   // fp32 master weights (mixed precision, core/precision.h)
  std::int64_t gradients = 0;
  std::int64_t optimizer = 0;    // optimizer state
  std::int64_t activations = 0;  // saved activations of micro-batches in flight
  std::int64_t buffers = 0;      // communication buffers, workspace
  std::int64_t total() const { return weights + master + gradients + optimizer + activations + buffers; }
};

struct Timeline {
  std::string source = "predicted";  // predicted | measured
  std::string schedule;              // schedule kind
  int num_ranks = 0, num_stages = 0, num_microbatches = 0, virtual_stages = 1;
  double step_time_ms = 0;
  std::int64_t device_memory_bytes = 0;  // limit to draw; 0 = none
  std::vector<TimelineEvent> events;
  std::vector<MemorySample> memory;
  std::map<std::string, std::string> meta;
};

// Throws InputError for events with end < start, negative or non-finite times,
// ranks outside [0, num_ranks), memory terms < 0.
void validate(const Timeline& t, const std::string& source);

}  // namespace pipekit
