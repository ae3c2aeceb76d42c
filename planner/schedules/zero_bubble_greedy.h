// The list scheduler behind the zero-bubble family (zb-h1, zb-h2, zbv,
// zb-auto; zb-interleaved keeps interleaved 1F1B's F/I order instead and only
// places its W's, weight_placement.h).
//
// It simulates every rank with integer costs per stage (F = I = W = 1 and free
// messages by default) and, whenever a rank is free, starts the ready action
// that can start earliest, preferring F over I over W at equal start times and
// the later stage (chunk) among a rank's stages. W only runs when nothing else
// can, so weight gradients fill the bubbles the costs leave. An F of stage s
// can start `message[s-1]` after F of s-1 ended on another rank, an I of s
// `message[s]` after I of s+1 did (0 on the same rank).
// Two per-rank memory limits shape the schedule: `in_flight` caps
// chunk-forwards not yet W'd (activations still held) and `awaiting_input_grad`
// (when > 0) caps forwards not yet I'd, which sets the warm-up depth.
// With `reserve_chunks` (needed for v >= 2 chunks per rank under arbitrary
// costs) a rank admits a new micro-batch, its first chunk's F, only while
// in_flight has room for all v of its chunk-forwards: later chunks never wait
// for memory, so the cap cannot deadlock. Without it (zbv's historical rule)
// every chunk-forward takes a slot as it comes; for v = 1 the two agree.
// The result is each rank's actions in the simulated start order, so replaying
// it with the same costs gives the same timings.
// Runs in O(actions * log ranks). Throws std::logic_error if the limits leave no
// rank able to proceed.
#pragma once

#include <cstdint>
#include <vector>

#include "core/schedule.h"

namespace pipekit {

struct ZeroBubbleLimits {
  std::vector<int> in_flight;            // per rank, >= 1 (>= chunks per rank with reserve_chunks)
  std::vector<int> awaiting_input_grad;  // per rank, 0 = unlimited; first chunk only with reserve_chunks
  bool reserve_chunks = false;
};

// Integer durations per global stage; empty vectors mean 1 (F, I, W) and 0 (message).
struct ZeroBubbleCosts {
  std::vector<std::int64_t> f, i, w;
  std::vector<std::int64_t> message;  // index s: between stage s and s + 1
};

// `c` spelled out for every stage of `frame`: F, I, W of 1 where not given,
// and a message cost only between stages on different ranks (0 elsewhere).
ZeroBubbleCosts costs_per_stage(const ZeroBubbleCosts& c, const Schedule& frame);

// Fills frame.actions (one list per rank) with F/I/W for every stage and
// micro-batch of the frame (num_stages, num_microbatches, stage_to_rank set).
void fill_zero_bubble_order(Schedule& frame, const ZeroBubbleLimits& limits,
                            const ZeroBubbleCosts& costs = {});

}  // namespace pipekit
