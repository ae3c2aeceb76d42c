// Lowering: adds the point-to-point transfers between ranks to a schedule.
//
// For every stage s whose neighbour lives on another rank:
//   - F(s,mb) is preceded by sRECV_F{mb} when stage s-1 is remote, and
//     followed by sSEND_F{mb} when stage s+1 is remote;
//   - B/I(s,mb) is preceded by sRECV_B{mb} when stage s+1 is remote (placed
//     before the R{mb} that immediately precedes it, so R stays adjacent to its
//     backward), and followed by sSEND_B{mb} when stage s-1 is remote.
// Communication tokens name the local stage: sSEND_F{mb} pairs with
// (s+1)RECV_F{mb}, sSEND_B{mb} with (s-1)RECV_B{mb}. Stages on the same rank
// (zbv's V turn) exchange nothing.
// Why this cannot deadlock: sends are asynchronous and issued right after the
// producing action, and each receive sits right before its consumer, so a
// receive waits exactly as long as the consumer waited for its data in the
// unlowered schedule. The lowered schedule deadlocks iff the unlowered one
// does (validate_schedule checks both). A schedule that is already lowered is
// returned unchanged. Linear in the number of actions.
#pragma once

#include "core/schedule.h"

namespace pipekit {

Schedule lower_schedule(const Schedule& s);

}  // namespace pipekit
