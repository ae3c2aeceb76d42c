// The validator on hand-broken schedules: every violation is reported with
// rank, position and action, and a deadlock names every blocked rank.
#include <doctest/doctest.h>

#include <algorithm>

#include <string>

#include "passes/lowering.h"
#include "passes/schedule_validator.h"
#include "tests/support/schedule_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;

namespace {

Schedule parse(const std::string& text) {
  return parse_schedule_text(text, "test");
}

bool has(const std::vector<ScheduleViolation>& v, int rank, int pos, const std::string& action,
         const std::string& words) {
  for (const auto& x : v)
    if (x.rank == rank && x.position == pos && to_string(x.action) == action &&
        x.message.find(words) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("a correct schedule has no violations") {
  Schedule s = parse("rank 0: 0F0 0F1 0B0 0B1 0STEP\nrank 1: 1F0 1B0 1F1 1B1 1STEP\n");
  CHECK(validate_schedule(s).empty());
  CHECK(validate_schedule(lower_schedule(s)).empty());
}

TEST_CASE("a cross-rank cycle is a deadlock naming every blocked rank") {
  // rank 0 wants 1's gradient for mb 0 before sending mb 1; rank 1 wants mb 1 first.
  Schedule s = parse("rank 0: 0F0 0B0 0F1 0B1 0STEP\nrank 1: 1F0 1F1 1B0 1B1 1STEP\n");
  auto v = validate_schedule(s);
  REQUIRE(v.size() == 2);
  CHECK(has(v, 0, 1, "0B0", "deadlock"));
  CHECK(has(v, 0, 1, "0B0", "waiting for 1B0"));
  CHECK(has(v, 1, 1, "1F1", "waiting for 0F1"));
  CHECK(has(v, 1, 1, "1F1", "blocked at position 1 on 0B0"));
  std::string text = format_violations(v);
  CHECK(text.find("rank 0, position 1, 0B0: deadlock") != std::string::npos);
  CHECK(text.find("rank 1, position 1, 1F1: deadlock") != std::string::npos);

  // Lowered, a receive is only posted: the compute that uses it waits for the send.
  Schedule low = lower_schedule(s);
  auto lv = validate_schedule(low);
  REQUIRE(lv.size() == 2);
  CHECK(has(lv, 0, 3, "0B0", "waiting for 1SEND_B0"));
  CHECK(has(lv, 1, 3, "1F1", "waiting for 0SEND_F1"));
  // Posting a receive early cannot deadlock by itself: rank 0 posting its
  // gradient receive before its first forward leaves the cycle as it was.
  auto& l0 = low.actions[0];
  auto it = std::find(l0.begin(), l0.end(), Action{0, ActionType::RECV_B, 0});
  REQUIRE(it != l0.end());
  Action recv = *it;
  l0.erase(it);
  l0.insert(l0.begin(), recv);
  auto ev = validate_schedule(low);
  REQUIRE(ev.size() == 2);
  CHECK(has(ev, 0, 3, "0B0", "waiting for 1SEND_B0"));
}

TEST_CASE("swapping two actions of a generated schedule is caught") {
  Schedule s = make_schedule("1f1b", 4, 8);
  // Rank 3 (last stage) does mb 1's forward before mb 0's: stage 3's F1 then
  // B0... fine in itself, but rank 2 expects B0 before F3 -> make a cycle by
  // moving rank 2's first backward before its warm-up forward of mb 1.
  auto& l = s.actions[2];
  REQUIRE(to_string(l[1]) == "2F1");
  REQUIRE(to_string(l[2]) == "2B0");
  std::swap(l[1], l[2]);  // rank 2: 2F0 2B0 2F1 ...; rank 3: 3F0 3B0 3F1 3B1 ... still fine
  CHECK(validate_schedule(s).empty());
  // Now rank 3 insists on F1 before B0 while rank 2 wants B0 before sending F1.
  auto& t = s.actions[3];
  REQUIRE(to_string(t[1]) == "3B0");
  std::swap(t[1], t[2]);
  auto v = validate_schedule(s);
  CHECK(has(v, 2, 1, "2B0", "waiting for 3B0"));
  CHECK(has(v, 3, 1, "3F1", "waiting for 2F1"));
  // Ranks 0 and 1 are blocked too, waiting for gradients that never come.
  int ranks = 0;
  for (const auto& x : v) ranks += x.message.find("deadlock") != std::string::npos;
  CHECK(ranks == 4);
}

TEST_CASE("dropped, duplicated and misplaced actions are reported where they are") {
  Schedule s = parse("rank 0: 0F0 0F1 0B0 0B1 0STEP\nrank 1: 1F0 1B0 1F1 1B1 1STEP\n");
  SUBCASE("dropped backward") {
    s.actions[1].erase(s.actions[1].begin() + 3);  // 1B1
    auto v = validate_schedule(s);
    CHECK(has(v, 1, -1, "1B1", "missing"));
    CHECK(v.size() == 1);  // rank 0's 0B1 is not reported as a deadlock as well
  }
  SUBCASE("dropped forward") {
    s.actions[0].erase(s.actions[0].begin() + 1);  // 0F1
    auto v = validate_schedule(s);
    CHECK(has(v, 0, -1, "0F1", "missing"));
  }
  SUBCASE("duplicate") {
    s.actions[0].insert(s.actions[0].begin() + 2, Action{0, ActionType::F, 1});
    auto v = validate_schedule(s);
    REQUIRE(v.size() == 1);
    CHECK(has(v, 0, 2, "0F1", "duplicate"));
    CHECK(has(v, 0, 2, "0F1", "position 1"));
  }
  SUBCASE("stage on the wrong rank") {
    s.actions[0].push_back(Action{1, ActionType::STEP, -1});
    auto v = validate_schedule(s);
    CHECK(has(v, 0, 5, "1STEP", "lives on rank 1"));
  }
  SUBCASE("backward before forward on a stage") {
    s = parse("rank 0: 0F0 0F1 0B0 0B1 0STEP\nrank 1: 1F0 1B1 1B0 1F1 1STEP\n");
    auto v = validate_schedule(s);
    CHECK(has(v, 1, 1, "1B1", "before 1F1"));
  }
  SUBCASE("out of range") {
    s.actions[1].push_back(Action{7, ActionType::F, 0});
    s.actions[1].push_back(Action{1, ActionType::F, 9});
    auto v = validate_schedule(s);
    CHECK(has(v, 1, 5, "7F0", "out of range"));
    CHECK(has(v, 1, 6, "1F9", "out of range"));
  }
}

TEST_CASE("split backward, recompute and communication rules") {
  SUBCASE("W before I, I without W, B with I") {
    Schedule s = parse("rank 0: 0F0 0W0 0I0 0F1 0I1 0F2 0B2 0I2 0W2\n");
    auto v = validate_schedule(s);
    CHECK(has(v, 0, 1, "0W0", "before 0I0"));
    CHECK(has(v, 0, -1, "0W1", "missing"));
    CHECK(has(v, 0, 7, "0I2", "both a full backward B and a split"));
  }
  SUBCASE("R must precede its backward directly") {
    Schedule s = parse("rank 0: 0F0 0R0 0F1 0B0 0R1 0B1\n");
    auto v = validate_schedule(s);
    REQUIRE(v.size() == 1);
    CHECK(has(v, 0, 1, "0R0", "right before the backward"));
  }
  SUBCASE("unmatched and misplaced sends and receives") {
    Schedule s = lower_schedule(make_schedule("1f1b", 2, 2));
    auto& r1 = s.actions[1];
    REQUIRE(to_string(r1[0]) == "1RECV_F0");
    r1.erase(r1.begin());
    auto v = validate_schedule(s);
    CHECK(has(v, 1, -1, "1RECV_F0", "missing"));
    // A transfer between stages on the same rank (zbv's turn) is an error.
    Schedule z = lower_schedule(make_schedule("zbv", 2, 4, 2));
    z.actions[1].insert(z.actions[1].begin() + 1, Action{1, ActionType::SEND_F, 0});
    auto zv = validate_schedule(z);
    CHECK(has(zv, 1, 1, "1SEND_F0", "both on rank 1"));
    // A receive placed after its consumer.
    Schedule t = lower_schedule(make_schedule("gpipe", 2, 1));
    std::swap(t.actions[1][0], t.actions[1][1]);  // 1F0 1RECV_F0
    auto tv = validate_schedule(t);
    CHECK(has(tv, 1, 0, "1F0", "before 1RECV_F0"));
  }
  SUBCASE("sparse numbering is refused without allocating") {
    Schedule s = parse("rank 0: 0F0 0B0\n");
    s.actions[0][1].microbatch = s.actions[0][0].microbatch = 999999999;
    s.num_microbatches = 1000000000;
    auto v = validate_schedule(s);
    REQUIRE(v.size() == 1);
    CHECK(v[0].message.find("too sparse") != std::string::npos);
  }
}

TEST_CASE("fifo order: a receiver posting micro-batches in another order is named") {
  Schedule ok = lower_schedule(parse("rank 0: 0F0 0F1 0B0 0B1 0STEP\nrank 1: 1F0 1B0 1F1 1B1 1STEP\n"));
  CHECK(fifo_order_mismatches(ok).empty());
  // Rank 1 receives micro-batch 1's activations first; a tagged transport
  // (Gloo) delivers this correctly, a FIFO one (NCCL) would swap the tensors.
  Schedule swapped = parse(
      "rank 0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0RECV_B1 0B1 0STEP\n"
      "rank 1: 1RECV_F1 1RECV_F0 1F0 1B0 1SEND_B0 1F1 1B1 1SEND_B1 1STEP\n");
  REQUIRE(validate_schedule(swapped).empty());
  auto bad = fifo_order_mismatches(swapped);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0] == "rank 0 -> rank 1 (activations): message 1 is sent as 0F0 but received as 0F1");
}
