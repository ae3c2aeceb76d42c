#include <doctest/doctest.h>

#include "core/action.h"

using namespace pipekit;

TEST_CASE("every action type prints and parses back") {
  for (int t = 0; t < kActionTypeCount; ++t) {
    auto type = static_cast<ActionType>(t);
    Action a{7, type, is_step_level(type) ? -1 : 12};
    std::string text = to_string(a);
    auto back = parse_action(text);
    REQUIRE(back.has_value());
    CHECK(*back == a);
  }
}

TEST_CASE("torch.distributed.pipelining spellings") {
  CHECK(to_string(Action{0, ActionType::F, 3}) == "0F3");
  CHECK(to_string(Action{2, ActionType::SEND_B, 1}) == "2SEND_B1");
  CHECK(to_string(Action{1, ActionType::W, 0}) == "1W0");
  CHECK(to_string(Action{3, ActionType::STEP, -1}) == "3STEP");
  CHECK(parse_action("12RECV_F345") == Action{12, ActionType::RECV_F, 345});
}

TEST_CASE("malformed action tokens are rejected") {
  for (const char* bad :
       {"", "F3", "0X3", "0F", "0STEP3", "-1F2", "0F-2", "0 F2", "0f2", "0F3x", "99999999999F1", "0SEND_3"})
    CHECK_MESSAGE(!parse_action(bad).has_value(), bad);
}
