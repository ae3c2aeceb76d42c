#include "executor/replica_layout.h"

#include <algorithm>
#include <stdexcept>

namespace pipekit {

ReplicaLayout::ReplicaLayout(std::vector<int> replicas) : replicas_(std::move(replicas)) {
  offsets_.push_back(0);
  for (int r : replicas_) {
    if (r < 1) throw std::invalid_argument("every pipeline rank needs at least one replica");
    offsets_.push_back(offsets_.back() + r);
  }
  // offsets_ has groups + 1 entries: the last is the world size.
}

int ReplicaLayout::group_of(int rank) const {
  auto it = std::upper_bound(offsets_.begin(), offsets_.end(), rank);
  if (rank < 0 || it == offsets_.end()) throw std::out_of_range("rank outside the replica layout");
  return static_cast<int>(it - offsets_.begin()) - 1;
}

bool ReplicaLayout::uniform() const {
  return std::all_of(replicas_.begin(), replicas_.end(), [&](int r) { return r == replicas_.front(); });
}

std::vector<RowPart> ReplicaLayout::overlaps(int group, int replica, int other, std::int64_t n) const {
  const std::int64_t lo = first_row(group, replica, n), hi = lo + slice_rows(group, n);
  const std::int64_t w = slice_rows(other, n);
  std::vector<RowPart> out;
  for (int k = 0; k < replicas(other); ++k) {
    const std::int64_t a = std::max(lo, k * w), b = std::min(hi, (k + 1) * w);
    if (a < b) out.push_back({k, rank(other, k), a - lo, b - a});
  }
  return out;
}

}  // namespace pipekit
