// The machines a plan runs on: levels of interconnect from innermost out.
//
// levels[0] groups `count` devices (e.g. 8 GPUs in a node); levels[1] groups
// `count` level-0 groups (e.g. 16 nodes), and so on. Devices are numbered so
// that members of one group are consecutive. Bandwidth is bytes per second per
// link, latency seconds per message. device_memory_bytes == 0 means no limit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pipekit {

struct ClusterLevel {
  int count = 1;
  double bandwidth_bytes_per_s = 0;  // 0: free (infinitely fast) links
  double latency_s = 0;
};

struct Cluster {
  std::string device_name = "device";
  std::int64_t device_memory_bytes = 0;
  std::vector<ClusterLevel> levels;

  int num_devices() const;
  // Index of the innermost level whose groups hold both devices (a == b: 0).
  int level_joining(int a, int b) const;
  // Seconds to move `bytes` between two devices over their joining level.
  double transfer_seconds(int a, int b, double bytes) const;
};

// One level of `devices` devices with the given link.
Cluster flat_cluster(int devices, double bandwidth_bytes_per_s, double latency_s = 0,
                     std::int64_t device_memory_bytes = 0);

// Throws InputError for counts < 1, negative or non-finite bandwidth/latency/memory.
void validate(const Cluster& c, const std::string& source);

}  // namespace pipekit
