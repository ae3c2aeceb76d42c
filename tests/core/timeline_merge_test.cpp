// Per-rank timelines onto one clock: the shift, the step end, ranks on
// another clock, unreadable clock records, and every step's span.
#include "core/timeline_merge.h"

#include <doctest/doctest.h>

#include "core/error.h"

using namespace pipekit;

namespace {

Timeline part(int rank, const std::string& clock, double start, double end, double step) {
  Timeline t;
  t.source = "measured";
  t.schedule = "1f1b";
  t.num_ranks = 3;
  t.num_stages = 3;
  t.num_microbatches = 1;
  t.step_time_ms = step;
  TimelineEvent e;
  e.rank = rank;
  e.action = Action{rank, ActionType::F, 0};
  e.start_ms = start;
  e.end_ms = end;
  t.events.push_back(e);
  MemorySample m;
  m.rank = rank;
  m.time_ms = start;
  t.memory.push_back(m);
  if (!clock.empty()) t.meta["clock.rank" + std::to_string(rank)] = clock;
  return t;
}

const TimelineEvent& event_of(const Timeline& t, int rank) {
  for (const auto& e : t.events)
    if (e.rank == rank) return e;
  FAIL("no event of rank " << rank);
  return t.events.front();
}

}  // namespace

TEST_CASE("ranks on one clock are shifted to the earliest origin") {
  // Rank 1 left the barrier 2.5 ms before rank 0, rank 2 1 ms after it.
  std::vector<Timeline> parts = {part(0, format_rank_clock("boot-a", 10'000'000), 1, 2, 10),
                                 part(1, format_rank_clock("boot-a", 7'500'000), 1, 3, 12),
                                 part(2, format_rank_clock("boot-a", 11'000'000), 0, 4, 9)};
  Timeline t = merge_rank_timelines(parts);
  CHECK(t.events.size() == 3);
  CHECK(t.memory.size() == 3);
  CHECK(event_of(t, 0).start_ms == doctest::Approx(3.5));
  CHECK(event_of(t, 1).start_ms == doctest::Approx(1.0));
  CHECK(event_of(t, 1).end_ms == doctest::Approx(3.0));
  CHECK(event_of(t, 2).start_ms == doctest::Approx(3.5));
  CHECK(event_of(t, 2).end_ms == doctest::Approx(7.5));
  // The step ends when the last rank ends: rank 2 at 3.5 + 9, rank 0 at 2.5 + 10.
  CHECK(t.step_time_ms == doctest::Approx(12.5));
  CHECK(t.meta.at("clock") == "one");
  CHECK(t.schedule == "1f1b");
  CHECK(t.meta.count("clock.rank2") == 1);
}

TEST_CASE("a rank on another clock keeps its own origin") {
  std::vector<Timeline> parts = {part(0, format_rank_clock("boot-a", 5'000'000), 1, 2, 10),
                                 part(1, format_rank_clock("boot-b", 1), 1, 3, 12)};
  Timeline t = merge_rank_timelines(parts);
  CHECK(event_of(t, 0).start_ms == doctest::Approx(1.0));
  CHECK(event_of(t, 1).start_ms == doctest::Approx(1.0));
  CHECK(t.step_time_ms == doctest::Approx(12.0));
  CHECK(t.meta.at("clock") == "per-rank");
}

TEST_CASE("timelines without clock records merge unshifted") {
  Timeline t = merge_rank_timelines({part(0, "", 1, 2, 10), part(1, "", 4, 5, 6)});
  CHECK(event_of(t, 1).start_ms == doctest::Approx(4.0));
  CHECK(t.step_time_ms == doctest::Approx(10.0));
  CHECK(t.meta.at("clock") == "per-rank");
}

TEST_CASE("an unreadable clock record is an input error naming the key") {
  std::vector<Timeline> parts = {part(0, "boot-a", 1, 2, 10)};
  CHECK_THROWS_WITH_AS(merge_rank_timelines(parts), doctest::Contains("clock.rank0"), InputError);
}

TEST_CASE("every step's span over the ranks lands in step_times_ms") {
  // Step 1: rank 1 starts 2 ms before rank 0 and ends 9 ms after its own
  // start; rank 0 ends at 10: the span is 2 + 10. Step 2: rank 0 starts
  // first (1 ms earlier) and ends last: its 8 ms. Rank 2 is on another clock
  // and counts from its own origin.
  std::vector<Timeline> parts = {part(0, format_rank_clock("boot-a", 12'000'000), 1, 2, 8),
                                 part(1, format_rank_clock("boot-a", 10'000'000), 1, 3, 5),
                                 part(2, format_rank_clock("boot-b", 1), 0, 1, 2)};
  parts[0].meta["step_spans.rank0"] = format_step_spans({{12'000'000, 10.0}, {30'000'000, 8.0}});
  parts[1].meta["step_spans.rank1"] = format_step_spans({{10'000'000, 9.0}, {31'000'000, 5.0}});
  parts[2].meta["step_spans.rank2"] = format_step_spans({{1, 11.5}, {2, 3.0}});
  Timeline t = merge_rank_timelines(parts);
  std::vector<double> steps = step_times_ms(t);
  REQUIRE(steps.size() == 2);
  CHECK(steps[0] == doctest::Approx(12.0));
  CHECK(steps[1] == doctest::Approx(8.0));
  // Rank 2's 11.5 ms from its own origin would be the longest in step 1.
  parts[2].meta["step_spans.rank2"] = format_step_spans({{1, 13.5}, {2, 3.0}});
  CHECK(step_times_ms(merge_rank_timelines(parts))[0] == doctest::Approx(13.5));
}

TEST_CASE("step spans missing on a rank or of another length give no step list") {
  std::vector<Timeline> parts = {part(0, format_rank_clock("boot-a", 1), 1, 2, 8),
                                 part(1, format_rank_clock("boot-a", 1), 1, 3, 5)};
  parts[0].meta["step_spans.rank0"] = format_step_spans({{1, 10.0}, {2, 8.0}});
  CHECK(step_times_ms(merge_rank_timelines(parts)).empty());
  parts[1].meta["step_spans.rank1"] = format_step_spans({{1, 10.0}});
  CHECK(step_times_ms(merge_rank_timelines(parts)).empty());
}

TEST_CASE("an unreadable step span or step list is an input error naming the key") {
  std::vector<Timeline> parts = {part(0, format_rank_clock("boot-a", 1), 1, 2, 8)};
  parts[0].meta["step_spans.rank0"] = "12:3.5 oops";
  CHECK_THROWS_WITH_AS(merge_rank_timelines(parts), doctest::Contains("step_spans.rank0"), InputError);
  parts[0].meta["step_spans.rank0"] = "12x:3.5";
  CHECK_THROWS_WITH_AS(merge_rank_timelines(parts), doctest::Contains("12x:3.5"), InputError);
  parts[0].meta["step_spans.rank0"] = "12:nan";
  CHECK_THROWS_WITH_AS(merge_rank_timelines(parts), doctest::Contains("12:nan"), InputError);
  parts[0].meta["step_spans.rank0"] = "12:-1";
  CHECK_THROWS_AS(merge_rank_timelines(parts), InputError);
  Timeline t;
  t.meta["step_times_ms"] = "3.5 -1";
  CHECK_THROWS_WITH_AS(step_times_ms(t), doctest::Contains("step_times_ms"), InputError);
  t.meta["step_times_ms"] = "3.5 inf";
  CHECK_THROWS_AS(step_times_ms(t), InputError);
}

TEST_CASE("without rank 0's clock every rank's steps count from its own origin") {
  std::vector<Timeline> parts = {part(0, "", 1, 2, 8), part(1, format_rank_clock("boot-a", 1), 1, 3, 5)};
  parts[0].meta["step_spans.rank0"] = format_step_spans({{5'000'000, 7.0}});
  parts[1].meta["step_spans.rank1"] = format_step_spans({{1'000'000, 6.0}});
  std::vector<double> steps = step_times_ms(merge_rank_timelines(parts));
  REQUIRE(steps.size() == 1);
  CHECK(steps[0] == doctest::Approx(7.0));  // not 6 + 4 ms of origin difference
}
