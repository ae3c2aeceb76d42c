#include <doctest/doctest.h>

#include "tests/support/test_timelines.h"
#include "viz/timeline_summary.h"

using namespace pipekit;

TEST_SUITE_BEGIN("viz");

TEST_CASE("idle_gaps returns the uncovered parts of the span") {
  auto g = idle_gaps({{2, 3}, {0, 1}, {2.5, 4}}, 6);
  REQUIRE(g.size() == 2);
  CHECK(g[0].start == 1);
  CHECK(g[0].end == 2);
  CHECK(g[1].start == 4);
  CHECK(g[1].end == 6);
  CHECK(idle_gaps({}, 5).size() == 1);
  CHECK(idle_gaps({{0, 5}}, 5).empty());
}

TEST_CASE("summarize computes bubble as idle compute time over ranks x step") {
  test::TestTimelineOptions o;
  o.ranks = 4;
  o.microbatches = 8;
  Timeline t = test::make_test_timeline(o);
  TimelineSummary s = summarize(t);
  // Each rank computes m*(f+b) + step = 8*3 + 0.5 ms.
  double busy = 8 * 3 + 0.5;
  CHECK(s.span_ms == doctest::Approx(t.step_time_ms));
  CHECK(s.bubble_fraction == doctest::Approx((s.span_ms - busy) / s.span_ms));
  REQUIRE(s.ranks.size() == 4);
  for (const auto& r : s.ranks) {
    CHECK(r.busy_ms == doctest::Approx(busy));
    CHECK(r.compute_events == 17);
    CHECK(r.peak_memory ==
          300'000'000 + 5'000'000 + 7 * 20'000'000 + 100'000'000);  // after the first backward
  }
  REQUIRE(s.throughput_samples_per_s);
  CHECK(*s.throughput_samples_per_s == doctest::Approx(32 / (t.step_time_ms / 1000)));
  // Asynchronous runs: throughput from the steady-state minibatch time.
  t.meta["time_per_minibatch_ms"] = "10";
  CHECK(*summarize(t).throughput_samples_per_s == doctest::Approx(3200));
}

TEST_CASE("summarize copes with an empty timeline") {
  Timeline t;
  t.num_ranks = 2;
  TimelineSummary s = summarize(t);
  CHECK(s.ranks.size() == 2);
  CHECK(s.bubble_fraction == 0);
  CHECK(!s.throughput_samples_per_s);
}

TEST_SUITE_END();
