// zb-interleaved: interleaved zero bubble, v >= 2 chunks per rank placed in a
// loop as in Megatron-LM's interleaved 1F1B (global stage s on rank s % p),
// with the backward split into I and W. The idea of torch.distributed.pipelining's
// ScheduleInterleavedZeroBubble (after Qi et al., "Zero Bubble Pipeline
// Parallelism", ICLR 2024): interleave the chunks and let the deferrable W
// fill what would be idle time.
//
// Built in two steps. The forwards and input gradients keep interleaved
// 1F1B's order exactly (interleaved.h: groups of p micro-batches, Megatron's
// warm-up), each backward becoming an I, so every channel between two ranks
// stays in FIFO order, which a free list scheduler over v >= 2 looped chunks
// does not guarantee. Then weight_placement.h moves each W into the gaps the
// costs leave, under the memory cap. Candidates: W wherever the next F or I
// waits, or only where it fits before that input arrives; each placed with the
// measured costs and with unit costs (zero_bubble_search.h's replay keeps the
// fastest, so never slower than the unit-cost order).
// Memory cap per rank (ScheduleCostHint::max_pending_backward, chunk-forwards
// whose W has not run): default interleaved 1F1B's own in-flight count,
// min(2(p-r-1) + (v-1)p + 1, v m) on rank r, so deferring a W never costs
// memory; a larger cap lets more W's wait, a smaller one is refused.
// Requires m >= p (as interleaved does). Ends with a STEP per chunk.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_zb_interleaved(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
