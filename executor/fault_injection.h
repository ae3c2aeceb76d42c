// Test hooks that make a rank fail on purpose, so that the launcher's failure
// handling and the checkpoints' crash consistency can be tested with real
// ranks. They are read once, from the environment the launcher passes to
// every rank, into the run's configuration (RunConfig::faults); the rank
// runtime asks `kill_position` once per step and compares one number per
// action, and the checkpoint writer calls the hook `checkpoint_kill` gives it.
// Nothing here is meant for users.
//
//   PIPEKIT_FAIL_RANK=R       rank R exits with status 7 before the rendezvous
//                             (the other ranks are still waiting, not failing)
//   PIPEKIT_KILL_RANK=R       rank R SIGKILLs itself halfway through its actions
//   PIPEKIT_KILL_AT_STEP=K    ... of step K (asynchronous: of minibatch K; default 1)
//   PIPEKIT_KILL_IN_CHECKPOINT=POINT
//                             ... instead while writing the checkpoint after
//                             step K, at POINT (checkpoint/write_point.h):
//                             mid-file, after-file (ranks with files),
//                             before-manifest, mid-manifest, before-latest (rank 0)
//   PIPEKIT_INJECT_INF=R:K    rank R finds an inf in its gradients at step K (loss
//                             scaling's overflow path; the --verify reference skips K too)
#pragma once

#include <cstddef>
#include <map>

#include "checkpoint/write_point.h"

namespace pipekit {

struct FaultInjection {
  int fail_rank = -1;
  int kill_rank = -1;
  int kill_at_step = 1;
  WritePoint kill_in_checkpoint = WritePoint::none;
  int inject_inf_rank = -1;
  int inject_inf_step = 0;  // 1-based

  // Throws InputError naming the variable when a value is not a number or a point.
  static FaultInjection from_environment();

  bool fails(int rank) const { return fail_rank >= 0 && fail_rank == rank; }
  // Whether `rank` injects an inf into its gradients in pass `step` (0-based).
  bool injects_inf(int rank, int step) const {
    return inject_inf_rank == rank && inject_inf_step == step + 1;
  }
  bool injects_inf_at(int step) const { return inject_inf_rank >= 0 && inject_inf_step == step + 1; }
  // Where in this rank's action list of pass `step` (0-based) it kills
  // itself; npos: nowhere. `actions` is the list's length; `minibatch_end`
  // maps a position to the minibatches finished there (asynchronous streams,
  // one pass; empty for flush schedules).
  std::size_t kill_position(int rank, int step, std::size_t actions,
                            const std::map<std::size_t, int>& minibatch_end) const;
  // The hook for writing the checkpoint after `step` steps (minibatches):
  // SIGKILLs the rank at the point asked for; empty when nothing is asked of it.
  WriteHook checkpoint_kill(int rank, int step) const;

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

}  // namespace pipekit
