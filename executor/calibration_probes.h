// The probes `pipekit run --compare` runs on this machine after the ranks
// finished, each a small measurement with LibTorch, gathered into a
// RunCalibration (simulator/run_calibration.h) for the prediction:
//  - link: Gloo over loopback between two threads of this process: a 4-byte
//    and a 1 MiB ping-pong give latency and bandwidth (bandwidth from the
//    fastest rounds, which a loaded machine disturbs least); a ping-pong at
//    the run's message size gives the processor time per message (the
//    process's CPU time over it: both ends, the transport's threads included).
//  - loaded message (ranks sharing this CPU): two threads play two ranks,
//    each posting its receive, computing a burst of the run's mean action,
//    sending and waiting, while more threads stand in for the run's other
//    ranks, computing bursts of the mean action for the share of the time
//    the schedule keeps a rank busy (a simulation with a device per rank):
//    the mean delivery delay and the transport threads' processor time per
//    message. The late-receive probe runs under the same load.
//  - optimizer step: timed on the largest stage's parameters; the transient
//    bytes of every stage's step.
//  - weight copies (asynchronous schedules) and host staging (CUDA ranks
//    sharing a GPU): copy speeds.
//  - sharing: ranks the run recorded on one processor (the CPU of one host,
//    or one GPU by its UUID) are probed together with `pipekit corun`'s
//    probe (executor/corun_probe.h), once for compute and once for steps.
#pragma once

#include <string>

#include "core/timeline.h"
#include "executor/run_config.h"
#include "simulator/run_calibration.h"
#include "simulator/stage_costs.h"

namespace pipekit {

struct ProbeOptions {
  double capacity = 0;          // > 0: use this shared-device capacity instead of the co-run probe
  double corun_window_s = 1.5;  // co-run probe window
};

// `base`: the run's stage costs (for message sizes and action lengths);
// `measured`: the run's timeline (which ranks shared a device, the transport).
RunCalibration calibrate_run(const RunConfig& c, const StageCosts& base, const Timeline& measured,
                             const ProbeOptions& o);

}  // namespace pipekit
