// Why the plan search's winner won, as text for `plan --search`: its bubble,
// its peak memory against the limit, what its recomputation costs, how far
// its time per sample is above the lower bound (the busiest rank's compute),
// and, for every other schedule, that schedule's best candidate and how much
// slower per sample it is (or that it did not fit, or was not simulated
// because its lower bound was already slower).
#pragma once

#include <string>

#include "planner/plan_search.h"

namespace pipekit {

// One line describing a candidate: schedule, depth x replicas, chunks,
// micro-batches x size, recomputation.
std::string describe_candidate(const SearchCandidate& c);

// Several lines, each ending in a newline; empty when nothing was ranked.
std::string explain_search(const SearchResult& r);

}  // namespace pipekit
