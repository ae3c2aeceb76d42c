// Receives posted ahead of their list position, as the executor runs them.
//
// Gloo's point-to-point protocol is a rendezvous: a sender's payload moves only
// after the receiver has posted the matching receive, and every hand-off wakes
// a thread of each process. A rank that posts its receive just before the
// compute action that uses it leaves the message to start after the rank is
// already waiting; on a machine whose cores are busy with compute each wake-up
// can wait a scheduler tick. Posting each receive `lookahead` compute actions
// earlier (double buffering: Megatron posts the next receive with the current
// send) lets the payload travel while the rank computes.
//
// post_receives_early() moves every RECV_F/RECV_B of each rank's lowered list
// to just before the lookahead-th compute action (F, B, I, W, R) that precedes
// it, or to the list's start when fewer precede it. Receives keep their order
// among themselves and every other action keeps its order, so a valid list
// stays valid; only the receive buffers live longer (the memory replay and
// the simulator read the moved list). lookahead 0 returns the schedule as is.
#pragma once

#include "core/schedule.h"

namespace pipekit {

Schedule post_receives_early(const Schedule& lowered, int lookahead);

}  // namespace pipekit
