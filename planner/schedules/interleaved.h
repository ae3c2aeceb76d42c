// interleaved: Megatron-LM interleaved 1F1B (Narayanan et al. 2021, section 2.2)
// with v model chunks per rank; global stage s = chunk * p + rank lives on rank
// s % p.
//
// Order of a rank's work: micro-batches go in groups of p; within a group,
// forwards run chunk 0..v-1, each chunk over the group's micro-batches in
// order. Backwards use the same grouping with chunks v-1..0.
// Warm-up on rank r: min((p - r - 1) * 2 + (v - 1) * p, m * v) forwards, then
// one forward / one backward, then the remaining backwards, then a STEP per
// chunk. v == 1 is exactly 1f1b (warm-up p - r - 1).
// When p does not divide m (Megatron requires it to), the lists are built for
// m rounded up to a multiple of p and the padding micro-batches are then
// deleted: the last group is smaller (m % p micro-batches) and everything else
// keeps its place. Deleting whole micro-batches cannot create a deadlock,
// while simply shortening the last group with the same warm-up can (v >= 3).
// Requires m >= p: the first rank's chunk-1 forward of micro-batch 0 needs that
// micro-batch to come around the ring, which takes p forward slots; with fewer
// micro-batches every rank idles at each chunk boundary and interleaving only
// adds communication (Megatron refuses it too).
// Under equal per-chunk costs (F/v, B/v) and p | m the bubble is
// (p-1)/(v*m+p-1) of the step.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_interleaved(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
