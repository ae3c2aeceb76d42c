// Cuts through asynchronous streams (checkpoint/resume of pipedream and 2bw):
// where each rank stops, what is in flight, which messages are sent or posted
// again, and which schedules cannot be cut.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include "passes/lowering.h"
#include "passes/stream_cut.h"
#include "tests/support/action_names.h"
#include "tests/support/schedule_test_support.h"

using namespace pipekit;
using pipekit::test::action_names;
using pipekit::test::make_schedule;

TEST_CASE("pipedream on 3 ranks cut after minibatch 1 of 2 micro-batches") {
  Schedule s = lower_schedule(make_schedule("pipedream", 3, 2, 1, Recompute::never, 3));
  auto cuts = stream_cut(s, 2);
  REQUIRE(cuts.size() == 3u);
  // Each rank stops right after the STEP that follows its B of micro-batch 1.
  for (int r = 0; r < 3; ++r) {
    const auto& list = s.actions[r];
    REQUIRE(cuts[r].position >= 2);
    CHECK(list[cuts[r].position - 1].type == ActionType::STEP);
    bool b1 = false;
    for (std::size_t i = 0; i < cuts[r].position; ++i)
      b1 = b1 || (list[i].type == ActionType::B && list[i].microbatch == 1);
    CHECK(b1);
  }
  // Stage 0 ran F2 and F3 ahead; stage 1 F2; the last stage nothing.
  CHECK(cuts[0].in_flight == std::vector<int>{2, 3});
  CHECK(cuts[1].in_flight == std::vector<int>{2});
  CHECK(cuts[2].in_flight.empty());
  // Activations sent before the cut that the next stage uses after its own.
  CHECK(action_names(cuts[0].resend) == "0SEND_F3");
  CHECK(action_names(cuts[1].resend) == "1SEND_F2");
  CHECK(cuts[2].resend.empty());
  for (auto& c : cuts) CHECK(c.repost.empty());
}

TEST_CASE("every generated pipedream and 2bw stream can be cut after every minibatch") {
  int checked = 0;
  for (std::string kind : {"pipedream", "2bw"})
    for (int p = 2; p <= 5; ++p)
      for (int m = 1; m <= 4; ++m) {
        if (kind == "2bw" && m < p - 1) continue;
        const int mini = 4;
        Schedule s = lower_schedule(make_schedule(kind, p, m, 1, Recompute::never, mini));
        for (int k = 1; k <= mini; ++k) {
          CAPTURE(kind);
          CAPTURE(p);
          CAPTURE(m);
          CAPTURE(k);
          std::vector<RankCut> cuts;
          REQUIRE_NOTHROW(cuts = stream_cut(s, k * m));
          // The one-pass positions agree with the full cut.
          for (int r = 0; r < p; ++r) CHECK(minibatch_ends(s, r, m).at(k - 1) == cuts[r].position);
          for (int r = 0; r < p; ++r) {
            const std::set<int> flying(cuts[r].in_flight.begin(), cuts[r].in_flight.end());
            // What is re-sent is rebuilt by recomputing an in-flight forward.
            for (const Action& a : cuts[r].resend) CHECK(flying.count(a.microbatch) == 1);
            // In flight means: the next minibatches, no more than the warm-up holds.
            for (int mb : flying) CHECK(mb >= k * m);
            CHECK(static_cast<int>(flying.size()) <= p);
          }
          // The last minibatch ends the stream: nothing in flight, the whole list done.
          if (k == mini)
            for (int r = 0; r < p; ++r) {
              CHECK(cuts[r].in_flight.empty());
              CHECK(cuts[r].position == s.actions[r].size());
            }
          ++checked;
        }
      }
  CHECK(checked > 100);
}

TEST_CASE("flush and interleaved schedules cannot be cut mid-stream") {
  // 1F1B has one STEP after all backwards: micro-batch 2's B is on the wrong side.
  Schedule f = lower_schedule(make_schedule("1f1b", 2, 4));
  CHECK_THROWS_WITH_AS(stream_cut(f, 2), doctest::Contains("wrong side of the cut"), std::invalid_argument);
  Schedule i = lower_schedule(make_schedule("interleaved", 2, 4, 2));
  CHECK_THROWS_WITH_AS(stream_cut(i, 4), doctest::Contains("one stage per rank"), std::invalid_argument);
  Schedule z = lower_schedule(make_schedule("zb-h1", 2, 4));
  CHECK_THROWS_WITH_AS(stream_cut(z, 4), doctest::Contains("only F, B, STEP"), std::invalid_argument);
  Schedule p = lower_schedule(make_schedule("pipedream", 2, 2, 1, Recompute::never, 2));
  CHECK_THROWS_WITH_AS(stream_cut(p, 5), doctest::Contains("outside the stream"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(stream_cut(make_schedule("pipedream", 2, 2, 1, Recompute::never, 2), 2),
                       doctest::Contains("lower it first"), std::invalid_argument);
}

TEST_CASE("a gradient in flight across the cut is refused") {
  // Rank 1 sends B1's gradient only after its STEP: at the cut rank 0 has not used it.
  Schedule s = parse_schedule_text(
      "rank 0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0STEP 0RECV_B1 0B1 0STEP\n"
      "rank 1: 1RECV_F0 1F0 1B0 1SEND_B0 1STEP 1RECV_F1 1F1 1B1 1STEP 1SEND_B1\n",
      "test");
  CHECK_NOTHROW(stream_cut(s, 1));
  CHECK_THROWS_WITH_AS(stream_cut(s, 2), doctest::Contains("in flight across the cut"),
                       std::invalid_argument);
}
