// What `pipekit run --compare`'s probes measured on this machine for one run
// (executor/calibration_probes.h), as plain data: everything the prediction
// (simulator/run_prediction.h) needs beyond the profile. Probing and
// predicting are apart, so a prediction can be re-made from these numbers.
#pragma once

#include <cstdint>
#include <vector>

#include "simulator/shared_device.h"

namespace pipekit {

struct RunCalibration {
  // The link between ranks: Gloo over loopback, idle ping-pongs.
  double link_latency_s = 0;
  double link_bandwidth_bytes_per_s = 0;  // host staging included where the run staged
  std::int64_t message_bytes = 0;         // the run's largest boundary message
  double message_cpu_s = 0;               // processor time per message, both ends together, idle
  double host_staging_bytes_per_s = 0;    // CUDA ranks sharing a GPU; 0: not staged
  bool nccl = false;                      // boundary tensors over NCCL: no host processor time per message
  // A message between ranks computing on one shared CPU (0: not probed).
  double loaded_delay_s = 0;          // mean wait beyond the send, while the others compute
  double loaded_transport_cpu_s = 0;  // the transport threads' processor time per message
  // Step-level work.
  double optimizer_step_ms = 0;                    // measured on the largest stage
  int largest_stage = 0;                           // by weight bytes
  double weight_copy_bytes_per_s = 0;              // asynchronous schedules (weight stashing); 0 otherwise
  std::vector<std::int64_t> step_transient_bytes;  // per rank: the optimizer's transient bytes at STEP
  // Ranks sharing one processor (groups of two or more), with the capacity
  // the co-run probe measured; the first group's probe rates for the report.
  std::vector<SharedDevice> shared;
  std::vector<double> corun_alone_per_s, corun_together_per_s;
  std::vector<double> corun_step_alone_per_s, corun_step_together_per_s;
  bool cpu = true;  // the ranks compute on the CPU
};

}  // namespace pipekit
