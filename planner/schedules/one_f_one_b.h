// 1f1b: PipeDream-Flush (Narayanan et al. 2021), the non-interleaved 1F1B.
//
// Rank s (of p) runs warm-up = min(p - s - 1, m) forwards, then alternates one
// forward and one backward (micro-batches in order) until its forwards run out,
// then the remaining backwards, then STEP. Stage s therefore holds at most
// p - s micro-batches of activations (GPipe: m).
// m < p is legal, as in torch: the warm-up is clipped to m, but then the
// fill/drain bubble (p-1 slots) dominates the m useful slots.
#pragma once

#include <vector>

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_one_f_one_b(const ScheduleSpec& spec, int num_ranks);

// The warm-up forward count used by 1f1b, pipedream and 2bw on rank `rank`.
int one_f_one_b_warmup(int rank, int num_ranks, int num_microbatches);

}  // namespace pipekit
