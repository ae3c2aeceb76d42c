#include "simulator/calibrated_model.h"

#include <algorithm>

namespace pipekit {

CalibratedModel calibrated_model(const RunCalibration& cal, int ranks) {
  CalibratedModel m;
  const bool shared_cpu = !cal.shared.empty() && cal.cpu;
  // Gloo messages cost both ends processor time: half the idle ping-pong's at each end.
  if (!cal.nccl) m.message_overhead_ms = cal.message_cpu_s * 1e3 / 2;
  double latency_s = cal.link_latency_s;
  if (shared_cpu) {
    // Under load, what a message end takes from its rank's compute is
    // measured directly (a fixed burst of work timed with and without
    // messages); older calibrations only had the transport threads' time.
    if (cal.end_cpu_fitted) {
      m.message_overhead_ms = cal.end_cpu_base_s * 1e3;
      m.message_overhead_per_byte_ms = cal.end_cpu_per_byte_s * 1e3;
    } else {
      m.message_overhead_ms = std::max(m.message_overhead_ms, cal.loaded_transport_cpu_s * 1e3 / 2);
    }
    latency_s = std::max(latency_s, cal.loaded_delay_s);
  }
  m.receive_wait_ms = cal.nccl ? 0 : cal.receive_wait_s * 1e3;
  m.cluster = flat_cluster(ranks, cal.link_bandwidth_bytes_per_s, latency_s);
  m.draws.compute_noise = cal.compute_noise;
  m.draws.speed_series = cal.speed_series;
  m.draws.speed_sample_ms = cal.speed_sample_ms;
  for (double d : cal.delay_samples_s) m.draws.delay_ms.push_back(d * 1e3);
  if (!cal.nccl)
    for (double d : cal.receive_wait_samples_s) m.draws.receive_wait_ms.push_back(d * 1e3);
  m.draw_cluster =
      m.draws.delay_ms.empty() ? m.cluster : flat_cluster(ranks, cal.link_bandwidth_bytes_per_s, 0.0);
  return m;
}

void apply_overheads(const CalibratedModel& m, SimOptions& o) {
  o.message_overhead_ms = m.message_overhead_ms;
  o.message_overhead_per_byte_ms = m.message_overhead_per_byte_ms;
  o.receive_wait_ms = m.receive_wait_ms;
}

}  // namespace pipekit
