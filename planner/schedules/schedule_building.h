// Building blocks shared by the schedule generators in this directory.
//
// Every generator produces per-rank lists of compute actions in a fixed order and
// then applies the same finishing passes: recomputation (an R right before each
// backward of a recomputing stage) and the step-level tail. Keeping those passes
// here means all kinds agree on the conventions of planner/schedule_generator.h.
// All helpers are linear in the number of actions they emit.
#pragma once

#include <string>
#include <vector>

#include "core/action.h"
#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

// One unit of work in a generator's ordering: a stage and a micro-batch.
struct StageMicrobatch {
  int stage = 0;
  int microbatch = 0;
};

// An empty schedule with kind, counts and stage_to_rank filled in for `kind`
// (see stage_rank()), and num_ranks empty action lists.
Schedule make_schedule_frame(const std::string& kind, int num_ranks, int virtual_stages, int microbatches);

// Appends "{stage}STEP" for every stage of each rank, in ascending stage order:
// the flush at the end of a synchronous step.
void append_flush_steps(Schedule& s);

// Inserts R{mb} right before each B/I of every stage that recomputes under `r`
// (always: all stages; except_last: all but the last global stage).
void insert_recompute(Schedule& s, Recompute r);
// Same for the stages whose entry is true (selective recomputation).
void insert_recompute(Schedule& s, const std::vector<bool>& stages);

// The 1F1B pattern on one rank: the first `warmup` forwards, then alternately
// one forward and one backward while forwards remain, then the remaining
// backwards. `forwards` and `backwards` are the rank's orderings of its work;
// backward actions get type `backward` (B, or I for split backwards).
void emit_one_f_one_b(std::vector<Action>& out, const std::vector<StageMicrobatch>& forwards,
                      const std::vector<StageMicrobatch>& backwards, int warmup,
                      ActionType backward = ActionType::B);

}  // namespace pipekit
