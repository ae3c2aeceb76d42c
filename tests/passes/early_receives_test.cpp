// Receives posted ahead of their list position: where they go, what stays in
// place, and that every generated schedule stays valid, equally fast in the
// simulator and cuttable where it was.
#include "passes/early_receives.h"

#include <doctest/doctest.h>

#include "core/schedule_traits.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "passes/lowering.h"
#include "passes/schedule_validator.h"
#include "passes/stream_cut.h"
#include "tests/support/action_names.h"
#include "tests/support/sim_test_support.h"

using namespace pipekit;
using pipekit::test::action_names;
using pipekit::test::make_schedule;

namespace {

bool is_recv(const Action& a) {
  return a.type == ActionType::RECV_F || a.type == ActionType::RECV_B;
}

std::vector<Action> only(const std::vector<Action>& v, bool recvs) {
  std::vector<Action> out;
  for (const Action& a : v)
    if (is_recv(a) == recvs) out.push_back(a);
  return out;
}

}  // namespace

TEST_CASE("gpipe on 2 ranks: each receive moves before the compute action ahead of it") {
  Schedule s = lower_schedule(make_schedule("gpipe", 2, 3));
  REQUIRE(action_names(s.actions[1]).rfind("1RECV_F0 1F0 1RECV_F1 1F1 1RECV_F2 1F2", 0) == 0);
  Schedule one = post_receives_early(s, 1);
  CHECK(action_names(one.actions[1]).rfind("1RECV_F0 1RECV_F1 1F0 1RECV_F2 1F1 1F2", 0) == 0);
  // Rank 0: RECV_B0 goes before F2 (the compute before it), RECV_B1 before B0.
  CHECK(
      action_names(one.actions[0]).rfind("0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0F2 0SEND_F2 0RECV_B1 0B0", 0) ==
      0);
  // Two ahead: before F1 and F2.
  Schedule two = post_receives_early(s, 2);
  CHECK(action_names(two.actions[0]).rfind("0F0 0SEND_F0 0RECV_B0 0F1 0SEND_F1 0RECV_B1 0F2", 0) == 0);
  CHECK(action_names(two.actions[1]).rfind("1RECV_F0 1RECV_F1 1RECV_F2 1F0", 0) == 0);
  // Zero: unchanged.
  CHECK(action_names(post_receives_early(s, 0).actions[0]) == action_names(s.actions[0]));
  CHECK_THROWS_AS(post_receives_early(s, -1), std::invalid_argument);
}

TEST_CASE("every generated schedule stays valid and the simulator's step time does not change") {
  int checked = 0;
  for (const auto& kind : schedule_kinds())
    for (int p = 2; p <= 4; ++p)
      for (int m : {1, 3, 6}) {
        const int v = schedule_traits(kind).search_chunks;
        const bool async = kind == "pipedream" || kind == "2bw";
        if (kind == "naive" && m > 1) continue;
        if ((kind == "interleaved" && m % p != 0) || (kind == "2bw" && m < p - 1)) continue;
        Schedule s;
        try {
          s = lower_schedule(make_schedule(kind, p, m, v, Recompute::never, async ? 3 : 1));
        } catch (const std::exception&) {
          continue;  // a shape this kind does not generate
        }
        for (int ahead : {1, 2, 5}) {
          CAPTURE(kind);
          CAPTURE(p);
          CAPTURE(m);
          CAPTURE(ahead);
          Schedule e = post_receives_early(s, ahead);
          for (int r = 0; r < p; ++r) {
            const auto& before = s.actions[r];
            const auto& after = e.actions[r];
            REQUIRE(after.size() == before.size());
            // Everything but the receives in place; the receives in their order.
            CHECK(action_names(only(after, false)) == action_names(only(before, false)));
            CHECK(action_names(only(after, true)) == action_names(only(before, true)));
            // No receive later than it was.
            for (std::size_t q = 0, seen = 0; q < before.size(); ++q) {
              if (!is_recv(before[q])) continue;
              std::size_t at = 0;
              while (!(after[at] == before[q])) ++at;
              CHECK(at <= q);
              ++seen;
            }
          }
          CHECK(validate_schedule(e).empty());
          const double t0 = test::run_synthetic(s, 1.0, 2.0).metrics.step_time_ms;
          const double t1 = test::run_synthetic(e, 1.0, 2.0).metrics.step_time_ms;
          CHECK(t1 == doctest::Approx(t0));
          if (async && kind == "pipedream")
            for (int k = 1; k <= 3; ++k) CHECK_NOTHROW(stream_cut(e, k * m));
          ++checked;
        }
      }
  CHECK(checked > 100);
}
