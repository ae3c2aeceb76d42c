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
  // Compute time a message end takes from its rank while the ranks compute
  // (a burst of fixed work timed with and without messages flowing), as a
  // line in the message's bytes fitted over the loaded probe's size sweep
  // (LogGP's o and G on the processor): base + per_byte * bytes.
  bool end_cpu_fitted = false;
  double end_cpu_base_s = 0, end_cpu_per_byte_s = 0;
  std::vector<std::int64_t> sweep_bytes;      // the sizes probed
  std::vector<double> sweep_end_cpu_s;        // compute taken per message end at each size
  std::vector<double> sweep_transport_cpu_s;  // the transport threads' processor time per end (for reference)
  std::vector<double> sweep_delay_s;          // mean delay at each size
  std::vector<double> delay_samples_s;        // every probed message's delay (Monte Carlo draws)
  std::vector<double> compute_noise;          // co-run probe: iteration time over its median (draws)
  // The machine's speed over time: each co-run worker's alone window, its
  // iteration times over their median in time order, and the milliseconds one
  // sample stands for. Empty: not probed (one rank, or a given capacity).
  std::vector<std::vector<double>> speed_series;
  std::vector<double> speed_sample_ms;
  // A message sent long before its receiver waits for it still takes this
  // long once the receiver waits (no asynchronous progress): the late-receive
  // probe's mean and samples. 0: not probed (NCCL, one rank).
  double receive_wait_s = 0;
  std::vector<double> receive_wait_samples_s;
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
  // The share of the time the message probes' stand-ins for the run's other
  // ranks computed (the schedule's busy share with a device per rank); for
  // the report, not the prediction.
  double load_duty = 1;
};

}  // namespace pipekit
