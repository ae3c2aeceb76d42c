// Where an asynchronous stream (pipedream, 2bw) can be checkpointed and resumed.
//
// These schedules never flush, so a checkpoint after minibatch K is a cut
// through the stream: each rank stops right after its optimizer STEP that
// follows the backward of micro-batch K*m-1 (the end of its list for the last
// minibatch). At that point a rank still holds micro-batches in flight (F
// done, B not): their stage inputs and weight versions go into the checkpoint,
// and resuming recomputes those forwards, exactly as activation recomputation
// would. Messages crossing the cut are the only other state: an activation
// sent before the sender's cut but used after the receiver's is sent again
// from the recomputed output, and a receive posted before the cut but used
// after it is posted again.
//
// stream_cut() derives all of that from the lowered schedule and refuses a cut
// the resumed run could not rebuild (a gradient in flight across it, a message
// used before the cut but sent after it, R/I/W actions, several stages on one
// rank): std::invalid_argument with the reason.
#pragma once

#include <cstddef>
#include <vector>

#include "core/action.h"
#include "core/schedule.h"

namespace pipekit {

struct RankCut {
  std::size_t position = 0;    // the rank's actions [0, position) are done at the cut
  std::vector<int> in_flight;  // micro-batches of the rank's stage with F done and B not, ascending
  std::vector<Action> repost;  // RECV_* posted before the cut and used after it, in list order
  std::vector<Action> resend;  // SEND_F done before the cut whose receiver uses it after its cut
};

// The cut after the first `microbatches_done` micro-batches (a multiple of the
// minibatch size, 1..num_microbatches) of a lowered schedule; one entry per rank.
std::vector<RankCut> stream_cut(const Schedule& lowered, int microbatches_done);

// Where every minibatch of `m` micro-batches ends on `rank` (one stage per
// rank): entry K-1 is stream_cut(lowered, K*m)[rank].position, the position
// just after the STEP that follows the rank's backward of micro-batch K*m-1.
// One pass over the rank's list and no rebuildability checks, for marking
// progress and checkpoint positions; a list without such a STEP for some K
// yields fewer entries.
std::vector<std::size_t> minibatch_ends(const Schedule& lowered, int rank, int m);

}  // namespace pipekit
