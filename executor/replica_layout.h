// Where the replicas of each pipeline rank live, and which rows of a
// micro-batch each one holds. Plain data (no LibTorch), shared by the runtime
// and its tests.
//
// Pipeline rank (group) g has replicas[g] processes, numbered group after
// group: global rank = offset(g) + replica. Flush schedules split every
// micro-batch of n rows among a group's replicas in equal contiguous slices
// (replica j holds rows [j n/r, (j+1) n/r)), so n must be a multiple of every
// group's count. Between groups with different counts a slice is sent to, or
// gathered from, every replica of the other group whose slice overlaps it:
// 3 replicas feeding 1 send their thirds to it; 1 feeding 2 sends each half
// to its owner.
#pragma once

#include <cstdint>
#include <vector>

namespace pipekit {

struct RowPart {
  int replica = 0;          // of the other group
  int rank = 0;             // its global rank
  std::int64_t offset = 0;  // first row within this replica's slice
  std::int64_t rows = 0;    // rows exchanged
};

class ReplicaLayout {
 public:
  ReplicaLayout() = default;
  explicit ReplicaLayout(std::vector<int> replicas);

  int groups() const { return static_cast<int>(replicas_.size()); }
  int world() const { return offsets_.empty() ? 0 : offsets_.back(); }
  int replicas(int group) const { return replicas_.at(group); }
  int rank(int group, int replica) const { return offsets_.at(group) + replica; }
  int group_of(int rank) const;
  int replica_of(int rank) const { return rank - offsets_.at(group_of(rank)); }
  bool uniform() const;

  // The rows of a micro-batch of n rows that replica `replica` of `group`
  // holds: [first, first + count).
  std::int64_t first_row(int group, int replica, std::int64_t n) const {
    return replica * (n / replicas(group));
  }
  std::int64_t slice_rows(int group, std::int64_t n) const { return n / replicas(group); }

  // The replicas of `other` whose slices overlap this replica's, in row order.
  std::vector<RowPart> overlaps(int group, int replica, int other, std::int64_t n) const;

 private:
  std::vector<int> replicas_;
  std::vector<int> offsets_;  // offsets_[g] = first rank of group g; back() = world
};

}  // namespace pipekit
