// Merges the timelines that each rank measured against its own clock origin
// into one timeline on one time scale.
//
// A rank measures its events from the moment it left the step's barrier, and
// ranks leave a barrier milliseconds apart on a loaded machine. Each part's
// meta carries "clock.rank<R>" = "<clock id> <origin ns>": ranks whose clock id
// equals rank 0's (CLOCK_MONOTONIC of one booted kernel) are shifted so that
// time 0 is the earliest origin among them; the step ends at the latest end.
// Ranks on another clock keep their own origin, and the merged meta says so
// ("clock" = "one" or "per-rank").
//
// Every step of the run, not only the recorded one: a part may carry
// "step_spans.rank<R>" = "<origin ns>:<end ms> ..." (one pair per step, the
// rank's origin and its end from that origin). When every part has the same
// number of them, the merged meta gets "step_times_ms" = "t1 t2 ...", each
// step's span over all ranks on the same rules (shifted onto the earliest
// origin of that step; parts on another clock count from their own).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/timeline.h"

namespace pipekit {

// The meta value a rank records: "<clock id> <origin ns>".
std::string format_rank_clock(const std::string& clock_id, std::int64_t origin_ns);

// One step of a rank: its origin on its clock and its end from that origin.
struct RankStepSpan {
  std::int64_t origin_ns = 0;
  double end_ms = 0;
};
// The meta value a rank records: "<origin ns>:<end ms> ..." in step order,
// end ms with 6 decimals (ns resolution).
std::string format_step_spans(const std::vector<RankStepSpan>& spans);

// The merged "step_times_ms" meta value read back; empty when absent.
// Throws InputError when it is not a list of numbers.
std::vector<double> step_times_ms(const Timeline& merged);

// parts[0] is rank 0's; every part holds one rank's events, memory samples,
// step_time_ms (from its own origin) and meta. Throws InputError when a
// "clock.rank<R>" or "step_spans.rank<R>" value cannot be read.
Timeline merge_rank_timelines(std::vector<Timeline> parts);

}  // namespace pipekit
