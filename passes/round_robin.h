// Asynchronous schedules (pipedream, 2bw) with replicated stages deal whole
// micro-batches round-robin among a pipeline rank's replicas, as PipeDream
// does: each replica runs the rank's lowered list restricted to what it owns,
// and every STEP all-reduces gradients with the other replicas (a collective:
// a replica's q-th STEP returns when all have reached theirs).
//
// round_robin_owner() says which replica owns an action; the executor runs
// exactly that. round_robin_deadlocks() replays every replica's list with
// sends never blocking, a forward or backward waiting for the matching send,
// and each STEP waiting for the group's q-th STEPs; it returns one line per
// replica left blocked. pipedream can deadlock with three or more replicas of
// a stage: a replica's STEP waits for a sibling's backward, which waits (down
// the pipeline) for a forward the first replica runs only after that STEP.
#pragma once

#include <string>
#include <vector>

#include "core/action.h"
#include "core/schedule.h"

namespace pipekit {

// Replica (0..replicas-1) that runs `a`: micro-batch g on g mod replicas; a
// STEP on the replica of the stage's latest B before it in the list
// (`last_b`) when `step_per_backward` (pipedream), on every replica (-1)
// otherwise (2bw: one STEP per minibatch).
int round_robin_owner(const Action& a, int replicas, int last_b, bool step_per_backward);

// round_robin_owner() of every action of one pipeline rank's list, in one pass.
std::vector<int> round_robin_owners(const std::vector<Action>& list, int replicas, bool step_per_backward);

// `group_replicas[g]`: replicas of pipeline rank g. Empty when every replica
// runs to the end of its list.
std::vector<std::string> round_robin_deadlocks(const Schedule& lowered,
                                               const std::vector<int>& group_replicas,
                                               bool step_per_backward);

}  // namespace pipekit
