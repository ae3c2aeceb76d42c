// dualpipev: DualPipeV, the V-shaped "cut-in-half" form of DeepSeek's DualPipe
// (DeepSeek-V3 technical report, 2024; deepseek-ai/DualPipe, dualpipev.py).
// Two chunks per rank in a V as in zbv: rank r holds stage r (chunk 0) and
// stage 2p-1-r (chunk 1). The order is the published one, fixed, not searched;
// per rank r of p with m >= 2p micro-batches (B = I then W at once, unless W is
// deferred to a FIFO queue that a "W-step" pops):
//   1. 2(p-r-1) F chunk 0
//   2. r+1 times: F chunk 0, F chunk 1
//   3. p-r-1 times: I chunk 1 (W deferred), W-step, F chunk 1
//   4. m-2p+r+1 times: F chunk 0, B chunk 1, F chunk 1, B chunk 0
//   5. p-r-1 times: B chunk 1, F chunk 1, B chunk 0
//   6. r+1 times: B chunk 1, B chunk 0, deferring W from the middle on
//      (i = (r+1)/2: before B chunk 1 on odd ranks, before B chunk 0 on even)
//   7. p-r-1 times: W-step, I chunk 0 (W deferred)
//   8. r+1 W-steps.
// Every count closes (m F, m I, m W per chunk) for every p >= 1 and m >= 2p,
// and the r+1 W's phase 6 defers plus phase 7's p-r-1 are exactly the p that
// phases 7 and 8 pop. DualPipe overlaps the F and B of phase 4's pairs (one chunk's
// forward computes while the other's backward communicates); pipekit's
// executor runs one action at a time, so a pair is two consecutive actions.
// A rank holds at most 2p + 1 chunk-forwards whose W has not run (2p after the
// warm-up, one more while phase 4's F precedes its B: p + 1/2 micro-batches of
// whole-rank activations, about 1F1B's peak); a smaller memory cap is refused.
// The order does not depend on the costs. Ends with a STEP per chunk.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_dualpipev(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
