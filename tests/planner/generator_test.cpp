// Generators: parameter errors, text/CSV round trips, and properties checked
// over many (ranks, micro-batches, virtual stages) for every kind: valid,
// lowered without deadlock, exact counts, memory bounds.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "core/error.h"
#include "passes/lowering.h"
#include "passes/schedule_validator.h"
#include "planner/schedule_generator.h"
#include "tests/support/schedule_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;

namespace {

std::string error_of(const std::string& kind, int p, int m, int v = 1, int minibatches = 1) {
  try {
    make_schedule(kind, p, m, v, Recompute::never, minibatches);
  } catch (const InputError& e) {
    return std::string(e.source()) + ": " + e.what();
  }
  return "";
}

// The (v, m) combinations a kind accepts for p ranks, within the test ranges.
std::vector<std::pair<int, int>> legal_params(const std::string& kind, int p) {
  std::vector<std::pair<int, int>> out;
  for (int m = 1; m <= 16; ++m) {
    if (kind == "naive" && m != 1) continue;
    if (kind == "interleaved" || kind == "zb-interleaved") {
      if (m < p) continue;
      for (int v = kind == "interleaved" ? 1 : 2; v <= 4; ++v) out.emplace_back(v, m);
    } else if (kind == "dualpipev") {
      if (m >= 2 * p) out.emplace_back(2, m);
    } else {
      out.emplace_back(kind == "zbv" ? 2 : 1, m);
    }
  }
  return out;
}

void check_counts(const Schedule& s, int m_total) {
  // Every stage: each micro-batch's F once and one backward (B, or I and W).
  std::vector<std::map<std::pair<int, int>, int>> per(s.num_stages);
  for (int r = 0; r < s.num_ranks; ++r)
    for (const Action& a : s.actions[r]) {
      REQUIRE(s.stage_to_rank[a.stage] == r);
      if (is_compute(a.type) && a.type != ActionType::R)
        per[a.stage][{static_cast<int>(a.type), a.microbatch}]++;
    }
  for (int st = 0; st < s.num_stages; ++st) {
    int f = 0, bwd = 0;
    for (auto& [k, n] : per[st]) {
      CHECK(n == 1);
      if (k.first == static_cast<int>(ActionType::F)) ++f;
      if (k.first == static_cast<int>(ActionType::B) || k.first == static_cast<int>(ActionType::I)) ++bwd;
    }
    CHECK(f == m_total);
    CHECK(bwd == m_total);
  }
}

}  // namespace

TEST_CASE("schedule kinds are listed in table order") {
  std::vector<std::string> want = {"naive", "gpipe", "1f1b", "interleaved", "pipedream",      "2bw",
                                   "zb-h1", "zb-h2", "zbv",  "zb-auto",     "zb-interleaved", "dualpipev"};
  CHECK(schedule_kinds() == want);
}

TEST_CASE("bad parameters are InputErrors that say what to do") {
  std::string e = error_of("bogus", 4, 4);
  CHECK(e.find("--schedule") == 0);
  CHECK(e.find("unknown schedule 'bogus'") != std::string::npos);
  for (const auto& k : schedule_kinds()) CHECK(e.find(k) != std::string::npos);

  CHECK(error_of("1f1b", 4, 0).find("--microbatches") == 0);
  CHECK(error_of("1f1b", 0, 4).find("at least 1 rank") != std::string::npos);
  CHECK(error_of("interleaved", 4, 4, 0).find("--virtual") == 0);
  CHECK(error_of("pipedream", 4, 4, 1, 0).find("--minibatches") == 0);

  std::string v = error_of("1f1b", 4, 4, 2);
  CHECK(v.find("--virtual") == 0);
  CHECK(v.find("interleaved") != std::string::npos);

  std::string z = error_of("zbv", 4, 8, 1);
  CHECK(z.find("zbv needs exactly 2 chunks per rank") != std::string::npos);
  CHECK(error_of("zbv", 4, 8, 3).find("zbv needs exactly 2 chunks per rank") != std::string::npos);
  CHECK(error_of("zbv", 4, 8, 2).empty());

  std::string n = error_of("naive", 4, 4);
  CHECK(n.find("--microbatches") == 0);
  CHECK(n.find("gpipe") != std::string::npos);
  CHECK(error_of("naive", 4, 1).empty());

  std::string i = error_of("interleaved", 4, 3, 2);
  CHECK(i.find("--microbatches") == 0);
  CHECK(i.find("at least as many micro-batches as ranks") != std::string::npos);
  CHECK(error_of("interleaved", 4, 5, 2).empty());

  CHECK(error_of("1f1b", 1 << 20, 1 << 20).find("too large") != std::string::npos);
}

TEST_CASE("conventions: placement, flush steps, small exact lists") {
  SUBCASE("1f1b p=3 m=4") {
    Schedule s = make_schedule("1f1b", 3, 4);
    CHECK(format_schedule_text(s) ==
          "rank 0: 0F0 0F1 0F2 0B0 0F3 0B1 0B2 0B3 0STEP\n"
          "rank 1: 1F0 1F1 1B0 1F2 1B1 1F3 1B2 1B3 1STEP\n"
          "rank 2: 2F0 2B0 2F1 2B1 2F2 2B2 2F3 2B3 2STEP\n");
  }
  SUBCASE("gpipe backwards in forward order, recompute except_last") {
    Schedule s = make_schedule("gpipe", 2, 2, 1, Recompute::except_last);
    CHECK(format_schedule_text(s) ==
          "rank 0: 0F0 0F1 0R0 0B0 0R1 0B1 0STEP\n"
          "rank 1: 1F0 1F1 1B0 1B1 1STEP\n");
    Schedule a = make_schedule("gpipe", 2, 1, 1, Recompute::always);
    CHECK(format_schedule_text(a) == "rank 0: 0F0 0R0 0B0 0STEP\nrank 1: 1F0 1R0 1B0 1STEP\n");
  }
  SUBCASE("naive") {
    CHECK(format_schedule_text(make_schedule("naive", 2, 1)) ==
          "rank 0: 0F0 0B0 0STEP\nrank 1: 1F0 1B0 1STEP\n");
  }
  SUBCASE("interleaved places stage s on rank s % p; zbv in a V") {
    Schedule s = make_schedule("interleaved", 4, 8, 3);
    CHECK(s.num_stages == 12);
    for (int st = 0; st < 12; ++st) CHECK(s.stage_to_rank[st] == st % 4);
    Schedule z = make_schedule("zbv", 4, 8, 2);
    std::vector<int> want = {0, 1, 2, 3, 3, 2, 1, 0};
    CHECK(z.stage_to_rank == want);
    CHECK(stage_rank("zbv", 6, 4, 2) == 1);
    // Flush: one STEP per stage of the rank, at the end.
    CHECK(to_string(z.actions[0][z.actions[0].size() - 2]) == "0STEP");
    CHECK(to_string(z.actions[0].back()) == "7STEP");
  }
  SUBCASE("interleaved with v=1 is exactly 1f1b") {
    for (int p = 1; p <= 6; ++p)
      for (int m = p; m <= 12; ++m) {
        Schedule a = make_schedule("interleaved", p, m, 1), b = make_schedule("1f1b", p, m);
        CHECK(a.actions == b.actions);
      }
  }
  SUBCASE("interleaved p=2 v=2 m=3: groups of p, last group smaller") {
    Schedule s = make_schedule("interleaved", 2, 3, 2);
    // Planned for m = 4 (groups {0,1} and {2,3}: chunk 0 then chunk 1 of each
    // group), then micro-batch 3 is deleted.
    CHECK(format_schedule_text(s) ==
          "rank 0: 0F0 0F1 2F0 2F1 0F2 2B0 2B1 2F2 0B0 0B1 2B2 0B2 0STEP 2STEP\n"
          "rank 1: 1F0 1F1 3F0 3B0 3F1 3B1 1F2 1B0 1B1 3F2 3B2 1B2 1STEP 3STEP\n");
  }
}

TEST_CASE("pipedream and 2bw: one stream, STEP placement, no flush") {
  Schedule pd = make_schedule("pipedream", 3, 2, 1, Recompute::never, 3);
  CHECK(pd.num_microbatches == 6);
  for (int r = 0; r < 3; ++r) {
    const auto& l = pd.actions[r];
    int steps = 0;
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (l[i].type == ActionType::B) {
        REQUIRE(i + 1 < l.size());
        CHECK(l[i + 1].type == ActionType::STEP);
      }
      if (l[i].type == ActionType::STEP) ++steps;
    }
    CHECK(steps == 6);
  }
  // Stage s holds p - s micro-batches (= weight versions) in flight.
  for (int st = 0; st < 3; ++st) CHECK(test::max_in_flight(pd, st) == 3 - st);

  Schedule tb = make_schedule("2bw", 3, 4, 1, Recompute::never, 2);
  CHECK(tb.num_microbatches == 8);
  for (int r = 0; r < 3; ++r) {
    const auto& l = tb.actions[r];
    std::vector<int> after;
    for (std::size_t i = 1; i < l.size(); ++i)
      if (l[i].type == ActionType::STEP) after.push_back(l[i - 1].microbatch);
    CHECK(after == std::vector<int>{3, 7});
    CHECK(l.back().type == ActionType::STEP);
  }
  CHECK(format_schedule_text(make_schedule("pipedream", 2, 2)) ==
        "rank 0: 0F0 0F1 0B0 0STEP 0B1 0STEP\n"
        "rank 1: 1F0 1B0 1STEP 1F1 1B1 1STEP\n");
}

TEST_CASE("text and CSV forms round-trip generated schedules") {
  for (const auto& kind : schedule_kinds()) {
    CAPTURE(kind);
    int v = kind == "interleaved" || kind == "zb-interleaved" ? 3
            : kind == "zbv" || kind == "dualpipev"            ? 2
                                                              : 1;
    int m = kind == "naive" ? 1 : 8;
    Schedule s = make_schedule(kind, 4, m, v, Recompute::except_last, 2);
    for (const Schedule& x : {s, lower_schedule(s)}) {
      Schedule t = parse_schedule_text(format_schedule_text(x), "text");
      CHECK(t.actions == x.actions);
      CHECK(t.stage_to_rank == x.stage_to_rank);
      CHECK(t.num_stages == x.num_stages);
      CHECK(t.num_microbatches == x.num_microbatches);
      Schedule c = parse_schedule_csv(format_schedule_csv(x), "csv");
      CHECK(c.actions == x.actions);
      CHECK(c.stage_to_rank == x.stage_to_rank);
    }
  }
}

TEST_CASE(
    "every generator: valid, deadlock-free and FIFO-ordered when lowered, exact counts (p 1..8, m 1..16)") {
  int checked = 0;
  for (const auto& kind : schedule_kinds()) {
    for (int p = 1; p <= 8; ++p) {
      for (auto [v, m] : legal_params(kind, p)) {
        for (Recompute rc : {Recompute::never, Recompute::except_last}) {
          if (rc != Recompute::never && m % 5 != 1) continue;  // a sample is enough
          CAPTURE(kind);
          CAPTURE(p);
          CAPTURE(m);
          CAPTURE(v);
          int mini = (kind == "pipedream" || kind == "2bw") ? 2 : 1;
          Schedule s = make_schedule(kind, p, m, v, rc, mini);
          REQUIRE(s.num_ranks == p);
          REQUIRE(s.num_stages == p * v);
          CHECK(!s.lowered());
          auto bad = validate_schedule(s);
          CHECK_MESSAGE(bad.empty(), format_violations(bad));
          Schedule low = lower_schedule(s);
          CHECK(low.lowered() == (p > 1));
          auto bad_low = validate_schedule(low);
          CHECK_MESSAGE(bad_low.empty(), format_violations(bad_low));
          // NCCL delivers in posting order: send and receive orders must agree.
          const auto fifo = fifo_order_mismatches(low);
          const std::string first = fifo.empty() ? std::string() : fifo[0];
          CHECK_MESSAGE(fifo.empty(), first);
          check_counts(s, m * mini);
          ++checked;
        }
      }
    }
  }
  CHECK(checked > 800);
}

TEST_CASE("1f1b keeps at most p - s micro-batches in flight on stage s, gpipe keeps m") {
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 16; ++m) {
      Schedule a = make_schedule("1f1b", p, m), g = make_schedule("gpipe", p, m);
      for (int st = 0; st < p; ++st) {
        CHECK(test::max_in_flight(a, st) == std::min(p - st, m));
        CHECK(test::max_in_flight(g, st) == m);
      }
    }
}

TEST_CASE("zero-bubble memory: zb-h1 like 1f1b's peak, zb-h2 about twice, zbv p micro-batches") {
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 16; ++m) {
      CAPTURE(p);
      CAPTURE(m);
      Schedule h1 = make_schedule("zb-h1", p, m), h2 = make_schedule("zb-h2", p, m),
               z = make_schedule("zbv", p, m, 2);
      for (int r = 0; r < p; ++r) {
        CHECK(test::max_in_flight(h1, r) <= std::min(p, m));
        CHECK(test::max_in_flight(h1, r, false) <= std::min(p - r, m));
        CHECK(test::max_in_flight(h2, r) <= std::min(2 * p - 1, m));
        CHECK(test::max_rank_in_flight(z, r) <= std::min(2 * p, 2 * m));
      }
      // Rank 0 reaches the bound once there are enough micro-batches.
      if (m >= 2 * p) CHECK(test::max_in_flight(h2, 0) == 2 * p - 1);
      if (m >= p) CHECK(test::max_in_flight(h1, 0) == p);
    }
}

TEST_CASE("lowering: sends after producers, receives before consumers, nothing on the V turn") {
  Schedule s = lower_schedule(make_schedule("1f1b", 2, 2));
  CHECK(format_schedule_text(s) ==
        "rank 0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0RECV_B1 0B1 0STEP\n"
        "rank 1: 1RECV_F0 1F0 1B0 1SEND_B0 1RECV_F1 1F1 1B1 1SEND_B1 1STEP\n");
  Schedule r = lower_schedule(make_schedule("gpipe", 2, 1, 1, Recompute::always));
  CHECK(format_schedule_text(r) ==
        "rank 0: 0F0 0SEND_F0 0RECV_B0 0R0 0B0 0STEP\n"
        "rank 1: 1RECV_F0 1F0 1R0 1B0 1SEND_B0 1STEP\n");
  Schedule z = lower_schedule(make_schedule("zbv", 3, 6, 2));
  for (const Action& a : z.actions[2])  // rank 2 holds stages 2 and 3: the V turn
    if (is_comm(a.type)) {
      bool turn = (a.stage == 2 && (a.type == ActionType::SEND_F || a.type == ActionType::RECV_B)) ||
                  (a.stage == 3 && (a.type == ActionType::RECV_F || a.type == ActionType::SEND_B));
      CHECK_FALSE(turn);
    }
  // Lowering is idempotent.
  CHECK(lower_schedule(s).actions == s.actions);
}

TEST_CASE("large schedules are generated and lowered in linear time") {
  Schedule a = make_schedule("1f1b", 64, 1024);
  CHECK(a.action_count() == 64u * (2 * 1024 + 1));
  Schedule b = make_schedule("interleaved", 128, 2048, 4);
  CHECK(b.action_count() == 128u * (2 * 2048 * 4 + 4));
  Schedule lb = lower_schedule(b);
  // Every F and every backward gains one send and one receive except at the ends.
  CHECK(lb.action_count() == b.action_count() + 2u * 2 * 2048 * (128 * 4 - 1));
  Schedule z = make_schedule("zbv", 64, 512, 2);
  CHECK(z.action_count() == 64u * (3 * 2 * 512 + 2));
  CHECK(validate_schedule(lb).empty());
}
