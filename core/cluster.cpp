#include "core/cluster.h"

#include <fmt/format.h>
#include <cmath>

#include "core/error.h"

namespace pipekit {

int Cluster::num_devices() const {
  long long n = 1;
  for (const auto& l : levels) n *= l.count;
  return levels.empty() ? 0 : static_cast<int>(n);
}

int Cluster::level_joining(int a, int b) const {
  long long group = 1;
  for (std::size_t l = 0; l < levels.size(); ++l) {
    group *= levels[l].count;
    if (a / group == b / group) return static_cast<int>(l);
  }
  return levels.empty() ? 0 : static_cast<int>(levels.size()) - 1;
}

double Cluster::transfer_seconds(int a, int b, double bytes) const {
  if (a == b || levels.empty()) return 0;
  const auto& l = levels[level_joining(a, b)];
  return l.latency_s + (l.bandwidth_bytes_per_s > 0 ? bytes / l.bandwidth_bytes_per_s : 0);
}

Cluster flat_cluster(int devices, double bandwidth, double latency, std::int64_t memory) {
  Cluster c;
  c.device_memory_bytes = memory;
  c.levels.push_back({devices, bandwidth, latency});
  return c;
}

void validate(const Cluster& c, const std::string& source) {
  if (c.levels.empty()) throw InputError(source, "$.levels", "a cluster needs at least one level");
  if (c.device_memory_bytes < 0)
    throw InputError(source, "$.device_memory_bytes", "device memory must be >= 0 (0 = no limit)");
  long long n = 1;
  for (std::size_t i = 0; i < c.levels.size(); ++i) {
    const auto& l = c.levels[i];
    std::string where = fmt::format("$.levels[{}]", i);
    if (l.count < 1) throw InputError(source, where, fmt::format("count is {}; it must be >= 1", l.count));
    if (!std::isfinite(l.bandwidth_bytes_per_s) || l.bandwidth_bytes_per_s < 0)
      throw InputError(source, where, "bandwidth_bytes_per_s must be finite and >= 0 (0 = free links)");
    if (!std::isfinite(l.latency_s) || l.latency_s < 0)
      throw InputError(source, where, "latency_s must be finite and >= 0");
    n *= l.count;
    if (n > (1 << 24)) throw InputError(source, where, "more than 16M devices; check the level counts");
  }
}

}  // namespace pipekit
