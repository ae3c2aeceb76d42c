// Search over pipeline configurations, each scored by simulating it.
//
// Dimensions: micro-batch size (the sizes the profiles were measured at, or
// any size interpolated from them: planner/profile_interpolation.h); pipeline
// depth p dividing the device count (each rank then replicated devices/p ways,
// replicas on consecutive devices; `straight` keeps only p = devices); every
// generated schedule of core/schedule_traits.h's table, flush and
// asynchronous (a new row joins without a change here); chunks per rank from
// the row's min_chunks to its max_chunks (at most max_virtual_stages; a
// chunked row is tried from 2 chunks, since one chunk is its plain form);
// micro-batch counts (given, or default_microbatch_counts(p); with a global
// batch, exactly global_batch / size); recomputation: never, always, and
// selective (per stage: only the stages whose activations would not fit the
// memory limit recompute; ScheduleSpec::recompute_stages).
//
// Each candidate's layers come from the exact straight partitioner
// (planner/straight_partitioner.h) into p x v stages under its schedule's
// memory rule (cached: the split depends on m only through the micro-batches
// in flight); its schedule from generate_schedule, with an all-reduce
// (REDUCE_GRAD) before each STEP of a replicated stage; its score from simulate():
// time per sample = time per minibatch / (m x micro-batch size). For the
// asynchronous schedules the minibatch time is the simulator's steady state
// over enough minibatches to pass the fill, so flush and stream compare per
// sample. Candidates the partitioner or generator rejects are skipped with
// the reason counted. The partitioner's memory model is simpler than the
// simulator's; a candidate whose simulated peak overflows is split again under
// the limit shrunk by the overflow (twice at most), and both are ranked.
//
// Speed: every candidate gets a lower bound before it is simulated (flush
// schedules: each rank's compute, recomputation included, plus the fill
// before its first stage and the input-gradient drain below it; streams: the
// busiest rank's compute, halved for pruning); candidates are simulated in order of that bound
// and the rest are dropped once the bound exceeds the best fitting time per
// sample found. Dropping is exact: a dropped candidate's time is above the
// winner's, so the winner and every simulated score are what the full search
// gives (prune = false simulates all, for tests).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/profile.h"

namespace pipekit {

struct SearchOptions {
  Cluster cluster;  // devices, links, memory per device
  // Schedule names; empty: every generated row of core/schedule_traits.h.
  std::vector<std::string> schedules;
  std::vector<int> microbatches;      // counts; empty: default_microbatch_counts(p) per depth p
  std::vector<int> microbatch_sizes;  // empty: the sizes the profiles were measured at
  int global_batch = 0;               // samples per minibatch; > 0: m = global_batch / size, exactly
  int max_virtual_stages = 4;         // chunks per rank, also bounded by each schedule's traits
  std::vector<Recompute> recompute = {Recompute::never, Recompute::always};
  bool selective_recompute = true;  // also try per-stage recomputation where memory binds
  bool straight = false;            // no replication: every candidate uses all devices as pipeline ranks
  Precision precision = Precision::fp32;  // the profile's; memory per parameter follows it (core/precision.h)
  int async_minibatches =
      4;              // pipedream / 2bw: at least this many minibatches, and 4p micro-batches past the fill
  bool prune = true;  // drop candidates whose lower bound exceeds the best (exact)
  // > 0: every device is a process on one shared processor (ranks on the
  // cores of one machine, or on one time-sliced GPU) that sustains this many
  // processes' compute (`pipekit corun` measures it). A replicated stage's
  // one simulated rank stands for its r processes, so the simulated ranks
  // share capacity / r between them (simulator/shared_device.h). 0: a device
  // per process. Sharing only slows a plan, so the lower bound stays exact.
  double shared_capacity = 0;
  // Called now and then with (simulated or dropped so far, candidates in all).
  std::function<void(int, int)> progress;
};

struct SearchCandidate {
  Plan plan;  // predicted: time_per_minibatch_s, time_per_sample_ms, step_time_ms, peak_memory_bytes, ...
  double time_per_minibatch_ms = 0;
  double time_per_sample_ms = 0;  // time per minibatch / (micro-batches x micro-batch size)
  double peak_memory_bytes = 0;
  double bubble_fraction = 0;
  double recompute_ms = 0;    // forward time recomputed per minibatch, summed over stages
  double compute_ms = 0;      // forward + backward per minibatch, summed over stages
  double lower_bound_ms = 0;  // per sample: no schedule of this split can be faster (see above)
  bool fits_memory = true;
};

struct SearchResult {
  // Fitting candidates first, then by time per sample (candidates differ in
  // micro-batches and their size); ties go to the lower peak memory.
  std::vector<SearchCandidate> ranked;
  int candidates = 0;  // enumerated
  int tried = 0;       // reached the partitioner
  int skipped = 0;     // rejected by partitioner or generator
  int pruned = 0;      // lower bound above the best: not simulated
  std::string first_skip_reason;
  // Per schedule name whose candidates were all pruned or skipped: the lowest
  // lower bound (time per sample, ms) seen, so a report can still compare it.
  std::map<std::string, double> unsimulated_bound;
};

// The default micro-batch counts at depth p: every count from 1 to 4p, then
// 6p and 8p (at most 512): any m, not only multiples of p, since with memory
// limits and uneven stages the best count is often not one.
std::vector<int> default_microbatch_counts(int p);

// Search over profiles of one model measured at one or more micro-batch sizes.
SearchResult search_plans(const std::vector<Profile>& profiles, const SearchOptions& o);
SearchResult search_plans(const Profile& profile, const SearchOptions& o);

// Simulates a given plan the way the search scores its candidates (for peer
// plans and comparisons); `profile` must be at the plan's micro-batch size.
SearchCandidate score_plan(const Profile& profile, Plan plan, const SearchOptions& o);

}  // namespace pipekit
