// The simulation-scored search over pipeline configurations.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "planner/plan_search.h"
#include "tests/support/planner_test_support.h"

using namespace pipekit;

TEST_CASE("search ranks simulated configurations, fitting and fastest per micro-batch first") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4}, 1000, 1000, 1000);
  for (auto& l : p.layers) l.backward_ms = 8;
  SearchOptions o;
  o.cluster = flat_cluster(4, 1e9);
  SearchResult r = search_plans(p, o);
  REQUIRE(r.ranked.size() > 10);
  for (std::size_t i = 1; i < r.ranked.size(); ++i) {
    const auto& a = r.ranked[i - 1];
    const auto& b = r.ranked[i];
    if (a.fits_memory == b.fits_memory)
      CHECK(a.time_per_minibatch_ms / a.plan.schedule.microbatches <=
            b.time_per_minibatch_ms / b.plan.schedule.microbatches + 1e-9);
  }
  const SearchCandidate& best = r.ranked.front();
  CHECK(best.fits_memory);
  // Every candidate covers all 8 layers on all 4 devices.
  for (const auto& c : r.ranked) {
    std::size_t layers = 0;
    std::set<int> ranks;
    for (const auto& s : c.plan.stages) {
      layers += s.layers.size();
      ranks.insert(s.ranks.begin(), s.ranks.end());
    }
    CHECK(layers == 8);
    CHECK(ranks.size() == 4);
  }
  CHECK(best.plan.predicted.count("time_per_minibatch_s") == 1);
}

TEST_CASE("search narrowed to one schedule and micro-batch count") {
  Profile p = test::chain_profile({1, 2, 3, 4});
  SearchOptions o;
  o.cluster = flat_cluster(2, 0);
  o.schedules = {"1f1b"};
  o.microbatches = {4};
  o.recompute = {Recompute::never};
  SearchResult r = search_plans(p, o);
  REQUIRE(r.ranked.size() == 2);  // depth 1 (2 replicas) and depth 2
  for (const auto& c : r.ranked) {
    CHECK(c.plan.schedule.kind == "1f1b");
    CHECK(c.plan.schedule.microbatches == 4);
  }
  // Free links, no parameters: 2 replicas of the whole model halve every
  // micro-batch (5 ms each, 20 ms), the best 2-stage split [1,2,3 | 4] takes
  // (4 + 1) x 6 = 30 ms of fill, steady state and drain.
  CHECK(r.ranked.front().plan.stages.size() == 1);
}

TEST_CASE("straight search never replicates, and equal times go to the smaller memory") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4}, 1000, 1000, 1000);
  SearchOptions o;
  o.cluster = flat_cluster(4, 1e9);
  o.straight = true;
  SearchResult r = search_plans(p, o);
  REQUIRE(!r.ranked.empty());
  for (std::size_t i = 0; i < r.ranked.size(); ++i) {
    const auto& c = r.ranked[i];
    CHECK(c.plan.stages.size() == static_cast<std::size_t>(4 * c.plan.schedule.virtual_stages));
    for (const auto& s : c.plan.stages) CHECK(s.replicas == 1);
    if (i == 0) continue;
    const auto& prev = r.ranked[i - 1];
    const double ta = prev.time_per_minibatch_ms / prev.plan.schedule.microbatches;
    const double tb = c.time_per_minibatch_ms / c.plan.schedule.microbatches;
    if (prev.fits_memory == c.fits_memory && std::abs(ta - tb) <= 1e-9 * std::max(ta, tb))
      CHECK(prev.peak_memory_bytes <= c.peak_memory_bytes);
  }
  // One device: no chunked schedules, whose chunks would all sit on the one rank.
  o.cluster = flat_cluster(1, 1e9);
  for (const auto& c : search_plans(p, o).ranked) CHECK(c.plan.schedule.virtual_stages == 1);
}
