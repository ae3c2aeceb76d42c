// Round-robin replicas of asynchronous schedules: who runs what, and which
// configurations deadlock on the STEP all-reduce (passes/round_robin.h).
#include <doctest/doctest.h>

#include <string>

#include "passes/lowering.h"
#include "passes/round_robin.h"
#include "tests/support/schedule_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;

TEST_CASE(
    "round-robin owners: micro-batch g on g mod r, pipedream STEPs follow their B, 2bw STEPs go to all") {
  CHECK(round_robin_owner(Action{0, ActionType::F, 5}, 3, 0, true) == 2);
  CHECK(round_robin_owner(Action{0, ActionType::SEND_B, 4}, 2, 0, true) == 0);
  CHECK(round_robin_owner(Action{0, ActionType::STEP, -1}, 3, 4, true) == 1);
  CHECK(round_robin_owner(Action{0, ActionType::STEP, -1}, 3, 4, false) == -1);
  CHECK(round_robin_owner(Action{0, ActionType::F, 5}, 1, 0, true) == 0);
}

TEST_CASE("pipedream with three replicas of the first stage deadlocks on its all-reduce, two do not") {
  // Stage 0's replica 0 waits in the all-reduce after B0 for replica 2's B2;
  // B2 needs stage 1's B2, which comes after stage 1's F3; F3 is replica 0's,
  // after that all-reduce.
  Schedule s = lower_schedule(make_schedule("pipedream", 3, 3, 1, Recompute::never, 2));
  auto bad = round_robin_deadlocks(s, {3, 1, 1}, true);
  REQUIRE(!bad.empty());
  CHECK(bad[0].find("all-reduce") != std::string::npos);
  // The same pipeline without replicas, or 2bw's one STEP per minibatch, runs.
  CHECK(round_robin_deadlocks(s, {1, 1, 1}, true).empty());
  Schedule bw = lower_schedule(make_schedule("2bw", 3, 3, 1, Recompute::never, 2));
  CHECK(round_robin_deadlocks(bw, {3, 1, 1}, false).empty());
}

TEST_CASE("two replicas per stage run to the end for generated pipedream schedules") {
  int checked = 0;
  for (int p = 2; p <= 4; ++p)
    for (int m : {2, 4, 6}) {
      Schedule s = lower_schedule(make_schedule("pipedream", p, m, 1, Recompute::never, 3));
      for (int g = 0; g < p; ++g) {
        std::vector<int> reps(p, 1);
        reps[g] = 2;
        CAPTURE(p);
        CAPTURE(m);
        CAPTURE(g);
        CHECK(round_robin_deadlocks(s, reps, true).empty());
        ++checked;
      }
    }
  CHECK(checked == 27);
}
