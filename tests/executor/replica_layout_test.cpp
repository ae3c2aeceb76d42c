// Rank numbering and row exchange between pipeline ranks with different
// replica counts (executor/replica_layout.h).
#include <doctest/doctest.h>

#include "executor/replica_layout.h"

using namespace pipekit;

TEST_CASE("replica layout: ranks are numbered group after group") {
  ReplicaLayout l({3, 1, 2});
  CHECK(l.world() == 6);
  CHECK(l.rank(0, 2) == 2);
  CHECK(l.rank(1, 0) == 3);
  CHECK(l.rank(2, 1) == 5);
  for (int r = 0; r < 6; ++r) CHECK(l.rank(l.group_of(r), l.replica_of(r)) == r);
  CHECK(!l.uniform());
  CHECK(ReplicaLayout({2, 2}).uniform());
  CHECK_THROWS(ReplicaLayout({2, 0}));
}

TEST_CASE("replica layout: three replicas feed one, one feeds two") {
  ReplicaLayout l({3, 1, 2});
  const std::int64_t n = 6;
  // Replica 1 of group 0 holds rows 2..3; group 1's single replica holds all.
  auto a = l.overlaps(0, 1, 1, n);
  REQUIRE(a.size() == 1);
  CHECK(a[0].rank == 3);
  CHECK(a[0].offset == 0);
  CHECK(a[0].rows == 2);
  // Group 1 gathers its six rows from the three, in row order.
  auto g = l.overlaps(1, 0, 0, n);
  REQUIRE(g.size() == 3);
  for (int k = 0; k < 3; ++k) {
    CHECK(g[k].rank == k);
    CHECK(g[k].offset == 2 * k);
    CHECK(g[k].rows == 2);
  }
  // Group 1 sends rows 0..2 to group 2's replica 0 and 3..5 to replica 1.
  auto s = l.overlaps(1, 0, 2, n);
  REQUIRE(s.size() == 2);
  CHECK(s[1].rank == 5);
  CHECK(s[1].offset == 3);
  CHECK(s[1].rows == 3);
}

TEST_CASE("replica layout: slices that straddle (2 into 3) are split exactly") {
  ReplicaLayout l({2, 3});
  const std::int64_t n = 6;  // group 0: rows 0-2, 3-5; group 1: 0-1, 2-3, 4-5
  auto p = l.overlaps(0, 0, 1, n);
  REQUIRE(p.size() == 2);
  CHECK(p[0].rows == 2);
  CHECK(p[1].offset == 2);
  CHECK(p[1].rows == 1);
  std::int64_t total = 0;
  for (int j = 0; j < 3; ++j)
    for (const auto& q : l.overlaps(1, j, 0, n)) total += q.rows;
  CHECK(total == n);  // every row arrives once
}
