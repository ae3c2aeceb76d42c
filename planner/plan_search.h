// Search over pipeline configurations, each scored by simulating it.
//
// Candidates: every pipeline depth p dividing the device count (each pipeline
// rank then replicated devices/p ways, replicas on consecutive devices), every
// schedule kind asked for, micro-batch counts (default p, 2p, 4p), virtual
// stages (interleaved: 2, zbv: 2, others 1; chunked kinds only when p > 1) and
// recomputation (never, always). `straight` keeps only p = devices.
// Each candidate's layers come from the exact straight partitioner
// (planner/straight_partitioner.h) into p x v stages under its schedule's
// memory; its schedule from generate_schedule; its score from simulate()
// (time per minibatch, peak memory against the cluster's limit). Candidates the
// partitioner or the generator rejects are skipped, and the reason counted.
// Cost: candidates x (partition O(p v n^2) + simulation O(actions)).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/profile.h"

namespace pipekit {

struct SearchOptions {
  Cluster cluster;  // devices, links, memory per device
  std::vector<std::string> schedules = {"gpipe", "1f1b", "interleaved", "zb-h1", "zb-h2", "zbv"};
  std::vector<int> microbatches;  // empty: p, 2p, 4p for each depth p
  std::vector<Recompute> recompute = {Recompute::never, Recompute::always};
  bool straight = false;  // no replication: every candidate uses all devices as pipeline ranks
  Precision precision = Precision::fp32;  // the profile's; memory per parameter follows it (core/precision.h)
};

struct SearchCandidate {
  Plan plan;  // predicted: time_per_minibatch_s, step_time_ms, peak_memory_bytes, bubble_fraction
  double time_per_minibatch_ms = 0;
  double peak_memory_bytes = 0;
  double bubble_fraction = 0;
  bool fits_memory = true;
};

struct SearchResult {
  // Fitting candidates first, then by time per micro-batch (minibatch / m): the
  // throughput, since candidates differ in micro-batches per minibatch; ties go
  // to the lower peak memory.
  std::vector<SearchCandidate> ranked;
  int tried = 0, skipped = 0;
  std::string first_skip_reason;
};

SearchResult search_plans(const Profile& profile, const SearchOptions& o);

}  // namespace pipekit
