// The steady part of an asynchronous (no-flush) stream: from the start of the
// forward of micro-batch `from` on stage 0 to the stream's end.
//
// A run's first minibatch pays warm-up that no profile holds (allocator growth,
// lazy optimizer state, first-touch pages: on this CPU about 150 ms of a
// 2.5 s gpt-tiny stream). Synchronous runs drop their first step; an
// asynchronous stream has no step boundary, so measured and predicted streams
// are both cut at the first forward of the second minibatch and compared over
// what follows. Busy time counts each compute action's part inside the window.
#pragma once

#include <optional>
#include <vector>

#include "core/schedule.h"
#include "core/timeline.h"
#include "simulator/simulator.h"

namespace pipekit {

struct SteadyWindow {
  double start_ms = 0;
  double length_ms = 0;         // timeline's step_time_ms - start_ms
  std::vector<double> busy_ms;  // per rank: compute inside the window
  // Per rank: the processor work of that compute (TimelineEvent::work_ms, an
  // event cut by the window counted in proportion); -1 when any event lacks it.
  std::vector<double> work_ms;
};

// The timeline from `start_ms` to its step's end (0: the whole step).
SteadyWindow timeline_window(const Timeline& t, double start_ms);

// nullopt when stage 0 has no forward of micro-batch `from` in the timeline.
std::optional<SteadyWindow> steady_window(const Timeline& t, int from);

// The window's length from a simulation run with SimOptions::record_action_times.
// nullopt when the schedule has no such forward or the times were not recorded.
std::optional<double> steady_window_ms(const Schedule& s, const SimulationResult& r, int from);

}  // namespace pipekit
