// The schedule traits table: one row per schedule, looked up by name, with
// the rules every part reads from it.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/error.h"
#include "core/schedule_traits.h"

using namespace pipekit;

TEST_CASE("every schedule has one row, found by its name, with its generator file") {
  std::set<std::string> names;
  std::set<ScheduleKind> ids;
  for (const auto& t : schedule_table()) {
    names.insert(std::string(t.name));
    ids.insert(t.id);
    CHECK(find_schedule(t.name) == &t);
    CHECK(&schedule_traits(t.name) == &t);
    CHECK(&schedule_traits(t.id) == &t);
    CHECK(t.generated());
    CHECK(t.min_chunks >= 1);
    CHECK((t.max_chunks == 0 || t.max_chunks >= t.min_chunks));
    CHECK(t.search_chunks >= t.min_chunks);
  }
  CHECK(names.size() == schedule_table().size());
  CHECK(ids.size() == schedule_table().size());
  CHECK(schedule_names().size() == schedule_table().size());
}

TEST_CASE("an unknown name is an InputError listing every schedule, and files fall back to custom") {
  CHECK(find_schedule("bogus") == nullptr);
  CHECK(find_schedule("custom") == nullptr);  // not a name one can ask for
  try {
    schedule_traits("bogus", "--schedule");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.source()) == "--schedule");
    const std::string what = e.what();
    CHECK(what.find("unknown schedule 'bogus'") != std::string::npos);
    for (const auto& n : schedule_names()) CHECK(what.find(n) != std::string::npos);
  }
  const ScheduleTraits& c = schedule_traits_or_custom("from-a-file");
  CHECK(c.id == ScheduleKind::custom);
  CHECK(!c.asynchronous());
  CHECK(!c.generated());
  CHECK(&schedule_traits_or_custom("1f1b") == find_schedule("1f1b"));
}

TEST_CASE("the rules: asynchrony, placement, weight versions, micro-batches in flight") {
  CHECK(schedule_traits("pipedream").asynchronous());
  CHECK(schedule_traits("2bw").asynchronous());
  for (const char* flush : {"naive", "gpipe", "1f1b", "interleaved", "zb-h1", "zb-h2", "zbv", "zb-auto",
                            "zb-interleaved", "dualpipev"})
    CHECK(!schedule_traits(flush).asynchronous());
  // Placement: loop (s mod p) and zbv's V.
  CHECK(stage_rank(schedule_traits("interleaved"), 5, 4) == 1);
  for (int s = 0; s < 8; ++s) CHECK(stage_rank(schedule_traits("zbv"), s, 4) == (s < 4 ? s : 7 - s));
  // Weight versions: flush 1, pipedream p - s, 2bw 2.
  for (int s = 0; s < 4; ++s) {
    CHECK(weight_versions(schedule_traits("1f1b"), s, 4) == 1);
    CHECK(weight_versions(schedule_traits("pipedream"), s, 4) == 4 - s);
    CHECK(weight_versions(schedule_traits("2bw"), s, 4) == 2);
  }
  // Micro-batches in flight on stage s of p with m per step.
  CHECK(in_flight_microbatches(schedule_traits("naive"), 0, 4, 16) == 1);
  CHECK(in_flight_microbatches(schedule_traits("gpipe"), 3, 4, 8) == 8);
  CHECK(in_flight_microbatches(schedule_traits("1f1b"), 0, 4, 8) == 4);
  CHECK(in_flight_microbatches(schedule_traits("1f1b"), 0, 4, 2) == 2);
  CHECK(in_flight_microbatches(schedule_traits("zb-h2"), 0, 4, 16) == 7);
  CHECK(schedule_traits("zbv").min_chunks == 2);
  CHECK(schedule_traits("zbv").max_chunks == 2);
  CHECK(schedule_traits("interleaved").max_chunks == 0);
  CHECK(schedule_traits("zb-h1").splits_backward);
  // The cost-aware zero-bubble rows.
  for (const char* zb : {"zb-auto", "zb-interleaved", "dualpipev"}) {
    CHECK(schedule_traits(zb).splits_backward);
    CHECK(!schedule_traits(zb).asynchronous());
  }
  for (const char* zb : {"zb-auto", "dualpipev"}) {
    CHECK(in_flight_microbatches(schedule_traits(zb), 3, 4, 16) == 4);  // min(p, m) on every stage
    CHECK(in_flight_microbatches(schedule_traits(zb), 0, 4, 2) == 2);
  }
  // zb-interleaved keeps interleaved 1F1B's forwards, so its activations too.
  CHECK(schedule_traits("zb-interleaved").in_flight == schedule_traits("interleaved").in_flight);
  CHECK(schedule_traits("zb-auto").uses_costs);
  CHECK(schedule_traits("zb-interleaved").uses_costs);
  CHECK(!schedule_traits("dualpipev").uses_costs);  // a fixed, published order
  CHECK(!schedule_traits("zb-h1").uses_costs);      // cost-aware only when a hint is given
  CHECK(schedule_traits("zb-interleaved").min_chunks == 2);
  CHECK(schedule_traits("zb-interleaved").max_chunks == 0);
  for (int s = 0; s < 8; ++s) {
    CHECK(stage_rank(schedule_traits("dualpipev"), s, 4) == (s < 4 ? s : 7 - s));
    CHECK(stage_rank(schedule_traits("zb-interleaved"), s, 4) == s % 4);
  }
  CHECK(!schedule_traits("1f1b").splits_backward);
}
