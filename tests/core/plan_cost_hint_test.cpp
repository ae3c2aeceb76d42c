// The schedule cost hint of a plan: optional in the JSON, round-tripped
// exactly, and validated (sizes, times, caps).
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "core/formats.h"

using namespace pipekit;

namespace {

Plan three_stage_plan() {
  Plan p;
  p.model = "m";
  for (int s = 0; s < 3; ++s) p.stages.push_back(PlanStage{{s}, 1, {s}});
  p.schedule.kind = "zb-auto";
  p.schedule.microbatches = 6;
  p.cluster = flat_cluster(3, 1e9);
  return p;
}

}  // namespace

TEST_CASE("a plan without a cost hint writes none and reads back empty") {
  Plan p = three_stage_plan();
  const std::string text = plan_to_json(p);
  CHECK(text.find("cost_hint") == std::string::npos);
  CHECK(plan_from_json(text, "plan.json").schedule.cost_hint.empty());
}

TEST_CASE("the cost hint round-trips: per-stage F, I, W, messages and the memory cap") {
  Plan p = three_stage_plan();
  ScheduleCostHint& h = p.schedule.cost_hint;
  h.forward_ms = {1.5, 2.25, 0.125};
  h.input_grad_ms = {1, 2, 3};
  h.weight_grad_ms = {0.5, 4, 0};
  h.message_ms = {0.1, 0.2};
  h.max_pending_backward = {3, 0, 2};
  Plan back = plan_from_json(plan_to_json(p), "plan.json");
  CHECK(back.schedule.cost_hint == h);
  CHECK(back.schedule.cost_hint.cap(0) == 3);
  CHECK(back.schedule.cost_hint.cap(1) == 0);
  CHECK(back.schedule.cost_hint.cap(7) == 0);

  // A cap alone (no costs) is a hint too.
  Plan cap_only = three_stage_plan();
  cap_only.schedule.cost_hint.max_pending_backward = {2, 2, 2};
  CHECK(plan_from_json(plan_to_json(cap_only), "plan.json").schedule.cost_hint ==
        cap_only.schedule.cost_hint);
}

TEST_CASE("a bad cost hint names the field") {
  Plan p = three_stage_plan();
  p.schedule.cost_hint.forward_ms = {1, 1};  // 2 of 3 stages
  p.schedule.cost_hint.input_grad_ms = {1, 1};
  p.schedule.cost_hint.weight_grad_ms = {1, 1};
  CHECK_THROWS_WITH_AS(validate(p, "plan.json"), doctest::Contains("cost_hint.forward_ms"), InputError);
  Plan q = three_stage_plan();
  q.schedule.cost_hint.forward_ms = {1, -1, 1};
  q.schedule.cost_hint.input_grad_ms = {1, 1, 1};
  q.schedule.cost_hint.weight_grad_ms = {1, 1, 1};
  CHECK_THROWS_WITH_AS(validate(q, "plan.json"), doctest::Contains("forward_ms[1]"), InputError);
  Plan r = three_stage_plan();
  r.schedule.cost_hint.message_ms = {1, 1, 1};
  CHECK_THROWS_WITH_AS(validate(r, "plan.json"), doctest::Contains("stage boundaries"), InputError);
  Plan c = three_stage_plan();
  c.schedule.cost_hint.max_pending_backward = {1, -2, 1};
  CHECK_THROWS_AS(validate(c, "plan.json"), InputError);
  std::string text = plan_to_json(three_stage_plan());
  text.replace(text.find("\"minibatches\""), 0, "\"cost_hint\": {\"bogus\": 1},\n");
  CHECK_THROWS_WITH_AS(plan_from_json(text, "plan.json"), doctest::Contains("bogus"), InputError);
}
