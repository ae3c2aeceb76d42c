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
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/timeline.h"

namespace pipekit {

// The meta value a rank records: "<clock id> <origin ns>".
std::string format_rank_clock(const std::string& clock_id, std::int64_t origin_ns);

// parts[0] is rank 0's; every part holds one rank's events, memory samples,
// step_time_ms (from its own origin) and meta. Throws InputError when a
// "clock.rank<R>" value cannot be read.
Timeline merge_rank_timelines(std::vector<Timeline> parts);

}  // namespace pipekit
