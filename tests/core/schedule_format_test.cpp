#include <doctest/doctest.h>

#include "core/error.h"
#include "core/formats.h"
#include "core/schedule.h"

using namespace pipekit;

namespace {
Schedule two_rank_1f1b() {
  Schedule s;
  s.kind = "1f1b";
  s.actions = {{{0, ActionType::F, 0},
                {0, ActionType::SEND_F, 0},
                {0, ActionType::F, 1},
                {0, ActionType::SEND_F, 1},
                {0, ActionType::RECV_B, 0},
                {0, ActionType::B, 0},
                {0, ActionType::RECV_B, 1},
                {0, ActionType::B, 1},
                {0, ActionType::STEP, -1}},
               {{1, ActionType::RECV_F, 0},
                {1, ActionType::F, 0},
                {1, ActionType::B, 0},
                {1, ActionType::SEND_B, 0},
                {1, ActionType::RECV_F, 1},
                {1, ActionType::F, 1},
                {1, ActionType::B, 1},
                {1, ActionType::SEND_B, 1},
                {1, ActionType::STEP, -1}}};
  infer_schedule_shape(s, "test");
  return s;
}
}  // namespace

TEST_CASE("schedule shape is inferred from actions") {
  Schedule s = two_rank_1f1b();
  CHECK(s.num_ranks == 2);
  CHECK(s.num_stages == 2);
  CHECK(s.num_microbatches == 2);
  CHECK(s.stage_to_rank == std::vector<int>{0, 1});
  CHECK(s.lowered());
  CHECK(s.action_count() == 18);
}

TEST_CASE("text form round-trips") {
  Schedule s = two_rank_1f1b();
  std::string text = format_schedule_text(s);
  CHECK(text.rfind("rank 0: 0F0 0SEND_F0 0F1", 0) == 0);
  Schedule back = parse_schedule_text(text, "t.txt");
  CHECK(back.actions == s.actions);
  CHECK(format_schedule_text(back) == text);
}

TEST_CASE("CSV form round-trips and reads torch-style dumps") {
  Schedule s = two_rank_1f1b();
  std::string csv = format_schedule_csv(s);
  Schedule back = parse_schedule_csv(csv, "s.csv");
  CHECK(back.actions == s.actions);
  // torch writes empty cells for idle slots and may quote; both are accepted.
  Schedule t = parse_schedule_csv("0F0,,\"0F1\",0B0,0B1\n,1F0,1B0,1F1,1B1\n", "t.csv");
  CHECK(t.actions[0].size() == 4);
  CHECK(t.actions[1].size() == 4);
  CHECK(t.actions[0][1] == Action{0, ActionType::F, 1});
}

TEST_CASE("schedule JSON round-trips") {
  Schedule s = two_rank_1f1b();
  Schedule back = schedule_from_json(schedule_to_json(s), "s.json");
  CHECK(back.actions == s.actions);
  CHECK(back.kind == "1f1b");
  CHECK(back.stage_to_rank == s.stage_to_rank);
}

TEST_CASE("bad schedules name the place") {
  CHECK_THROWS_WITH_AS(parse_schedule_text("rank 0: 0F0 0Q1\n", "x.txt"),
                       doctest::Contains("x.txt: line 1, item 2: '0Q1' is not an action"), InputError);
  CHECK_THROWS_WITH_AS(parse_schedule_text("rank 0: 0F0\nrank 1: 0F1\n", "x.txt"),
                       doctest::Contains("stage 0 appears on rank 0 and on rank 1"), InputError);
  CHECK_THROWS_WITH_AS(parse_schedule_text("rank 1: 0F0\n", "x.txt"), doctest::Contains("expected rank 0"),
                       InputError);
  CHECK_THROWS_AS(parse_schedule_text("", "x.txt"), InputError);
  CHECK_THROWS_WITH_AS(parse_schedule_csv("0F0,2F0\n", "x.csv"), doctest::Contains("stage 1 has no"),
                       InputError);
}
