// Exact straight-pipeline partitioning for synchronous (flush) schedules: split
// the layers, in profile order, into p contiguous stages, one device each,
// minimising the slowest stage subject to per-device memory.
//
// Stage time = forward + backward of its layers, plus, with a bandwidth, the bytes
// it sends per micro-batch (its output forward, its input's gradient backward)
// divided by the bandwidth. Bytes crossing a boundary are the outputs of every
// layer before it consumed after it (for a chain, the last layer's output).
// Stage memory = params x (1 weights + 1 gradients + optimizer_factor) + saved
// activations (a replica's share of them) x the micro-batches the schedule
// keeps in flight on that stage:
// gpipe m; 1f1b, interleaved, zb-h1, zbv min(p - s, m); zb-h2 min(2(p - s) - 1, m);
// naive 1; pipedream / 2bw as 1f1b plus stashed weight versions (in flight - 1,
// resp. 1). With recomputation a recomputing stage keeps only its input per
// micro-batch in flight plus one micro-batch's full saved activations.
// Exact: a dynamic program over (stage, last layer), O(p n^2), not a greedy
// block partition ([5,1,1,1,1,1,1,5] into 3 gives 6, not torchgpipe's 8).
// When no split fits, throws InputError (source "--memory") naming the stage,
// its layers, the bytes it needs under the schedule and the limit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/profile.h"

namespace pipekit {

struct StraightOptions {
  int stages = 1;
  ScheduleSpec schedule;                    // kind, microbatches, recompute
  std::optional<double> memory_bytes;       // per device; nullopt: no limit
  double bandwidth = 0;                     // bytes/s; 0: transfers not counted
  std::vector<double> boundary_bandwidths;  // stages-1 entries (stage s to s+1); overrides bandwidth
  double optimizer_factor = 2;  // core/precision.h's static_memory_factor: fp32 Adam 2, mixed Adam 8
  // Selective recomputation (with schedule.recompute == never): a stage whose
  // activations would not fit memory_bytes recomputes (keeps only its input per
  // micro-batch in flight) and pays its forward again in its time; stages that
  // fit keep their activations. The split minimises the slowest stage with
  // that cost included, so recomputation lands where it is cheapest.
  bool selective_recompute = false;
  // Every stage's data-parallel replicas, and the micro-batch's rows as a
  // multiple of the profile's. A replica holds its share of the activations
  // (core/schedule_traits.h's replica_activation_share: 1 / r of each
  // micro-batch under a flush schedule, whole micro-batches in turn under an
  // asynchronous one) and all of the parameters.
  int replicas = 1;
  int microbatch_rows = 1;
};

struct StraightStage {
  int first = 0, last = 0;  // layer range, inclusive
  double time_ms = 0;       // per micro-batch, compute + transfers
  double memory_bytes = 0;
  int in_flight = 0;       // micro-batches whose activations the stage holds
  bool recompute = false;  // selective_recompute chose to recompute this stage
};

struct StraightResult {
  std::vector<StraightStage> stages;
  double max_stage_ms = 0;
};

// Micro-batches in flight on stage s (0-based) of p under the schedule.
int in_flight_microbatches(const std::string& kind, int stage, int stages, int microbatches);

// Memory of one device holding layers first..last as stage s of p.
double straight_stage_memory(const Profile& p, const StraightOptions& o, int stage, int first, int last);

StraightResult straight_partition(const Profile& p, const StraightOptions& o);

}  // namespace pipekit
