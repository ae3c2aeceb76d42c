// The list scheduler behind zb-h1, zb-h2 and zbv.
//
// It simulates every rank with integer unit costs (F = I = W = 1 by default,
// no communication time) and, whenever a rank is free, starts the ready action
// that can start earliest, preferring F over I over W at equal start times and
// the later stage (chunk) among a rank's stages. W only runs when nothing else
// can, so weight gradients fill the bubbles. Two per-rank memory limits shape
// the schedule: `in_flight` caps forwards not yet W'd (activations still held)
// and `awaiting_input_grad` (when > 0) caps forwards not yet I'd, which sets the
// warm-up depth. The result is each rank's actions in the simulated start
// order, so replaying it with the same costs gives the same timings.
// Runs in O(actions * log ranks). Throws std::logic_error if the limits leave no
// rank able to proceed (not reachable with the limits the generators use; the
// property tests check this).
#pragma once

#include <cstdint>
#include <vector>

#include "core/schedule.h"

namespace pipekit {

struct ZeroBubbleLimits {
  std::vector<int> in_flight;            // per rank, >= 1
  std::vector<int> awaiting_input_grad;  // per rank, 0 = unlimited
};

struct ZeroBubbleCosts {
  std::int64_t f = 1, i = 1, w = 1;
};

// Fills frame.actions (one list per rank) with F/I/W for every stage and
// micro-batch of the frame (num_stages, num_microbatches, stage_to_rank set).
void fill_zero_bubble_order(Schedule& frame, const ZeroBubbleLimits& limits,
                            const ZeroBubbleCosts& costs = {});

}  // namespace pipekit
