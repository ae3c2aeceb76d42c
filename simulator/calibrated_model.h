// The overhead model a calibration (simulator/run_calibration.h) puts into a
// simulation, in one place for `run --compare`'s prediction and `simulate
// --calibration`. Every number comes from a probe on the machine; nothing is
// fitted to a shape.
//
//  - message end processor time: base + per_byte * bytes (the loaded probe's
//    size sweep; ranks sharing a CPU), else half the idle ping-pong's
//    per-message time; 0 over NCCL;
//  - delivery: the link's bandwidth, and latency = the larger of the idle
//    ping-pong's and the loaded probe's mean delay (ranks sharing a CPU);
//  - late receive: a message sent before its receiver waits still costs the
//    late-receive probe's mean wait (no asynchronous progress; 0 over NCCL);
//  - spread draws: the co-run probe's iteration noise, the loaded probe's
//    delays (replacing the mean latency), the late-receive samples, and the
//    machine's speed series (the co-run probe's alone windows).
#pragma once

#include "simulator/prediction_spread.h"
#include "simulator/run_calibration.h"
#include "simulator/simulator.h"

namespace pipekit {

struct CalibratedModel {
  Cluster cluster;       // flat, `ranks` devices
  Cluster draw_cluster;  // for the draws: the loaded latency left to the drawn delays
  double message_overhead_ms = 0, message_overhead_per_byte_ms = 0;
  double receive_wait_ms = 0;
  SpreadInputs draws;  // samples only; draws/seed left to the caller
};

CalibratedModel calibrated_model(const RunCalibration& cal, int ranks);

// Sets `o`'s message and late-receive terms from `m`.
void apply_overheads(const CalibratedModel& m, SimOptions& o);

}  // namespace pipekit
