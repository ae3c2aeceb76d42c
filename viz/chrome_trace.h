// A timeline as Chrome / Perfetto trace JSON (open in ui.perfetto.dev or
// chrome://tracing).
//
// pid = rank (process_name "rank N"); tid 0 compute, 1 send, 2 recv (named by
// thread_name metadata). Events are "X" slices with real durations in
// microseconds. Slices on one (pid, tid) always nest or are disjoint: an event
// that would partly overlap another on its stream goes to an extra thread
// ("compute #2", tid 100 + ...). Idle gaps on the compute thread are "bubble"
// slices. Each send is joined to its matching receive by a flow ("s" at the
// send, "f" with bp "e" at the receive): SEND_F of stage s and micro-batch k
// matches RECV_F of stage s+1 and k, SEND_B of stage s matches RECV_B of stage
// s-1, both also matched on the peer ranks when the events name them. Memory
// samples become "C" counter events "memory MB" per rank, one series per term.
#pragma once

#include <string>

#include "core/timeline.h"

namespace pipekit {

std::string render_chrome_trace(const Timeline& t);

}  // namespace pipekit
