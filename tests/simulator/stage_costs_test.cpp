// Stage costs from a profile and from synthetic numbers.
#include <doctest/doctest.h>

#include "core/error.h"
#include "simulator/stage_costs.h"

using namespace pipekit;

namespace {
Profile four_layers(bool split) {
  Profile p;
  p.model = "toy";
  p.microbatch_size = 2;
  p.input_bytes = 64;
  for (int i = 0; i < 4; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.forward_ms = 1.0 + i;
    l.backward_ms = 2.0 * (1.0 + i);
    if (split) {
      l.input_grad_ms = 0.5 * (1.0 + i);
      l.weight_grad_ms = 1.5 * (1.0 + i);
    }
    l.param_bytes = 100 * (i + 1);
    l.output_bytes = 10 * (i + 1);
    l.saved_bytes = 1000 * (i + 1);
    l.workspace_bytes = 7 * (i + 1);
    p.layers.push_back(l);
  }
  return p;
}
}  // namespace

TEST_CASE("stage costs sum a stage's layers, boundaries carry the last layer's output") {
  StageCosts c = stage_costs_from_layers(four_layers(false), {{0, 1}, {2, 3}});
  REQUIRE(c.stages.size() == 2);
  CHECK_FALSE(c.measured_split);
  CHECK(c.stages[0].forward_ms == doctest::Approx(3.0));
  CHECK(c.stages[1].backward_ms == doctest::Approx(14.0));
  CHECK(c.stages[1].input_grad_ms == doctest::Approx(7.0));  // default I = W = B/2
  CHECK(c.stages[1].weight_grad_ms == doctest::Approx(7.0));
  CHECK(c.stages[0].recompute_ms == doctest::Approx(3.0));
  CHECK(c.stages[0].output_bytes == 20);
  CHECK(c.stages[1].output_bytes == 0);
  CHECK(c.stages[0].input_bytes == 64);
  CHECK(c.stages[1].input_bytes == 20);
  CHECK(c.stages[0].param_bytes == 300);
  CHECK(c.stages[1].saved_bytes == 7000);
  CHECK(c.stages[1].workspace_bytes == 28);
}

TEST_CASE("measured I/W split is used, micro-batch size scales times and activations") {
  StageCosts c = stage_costs_from_layers(four_layers(true), {{0}, {1, 2, 3}}, 4);
  CHECK(c.measured_split);
  CHECK(c.stages[0].input_grad_ms == doctest::Approx(1.0));   // 0.5 * 2
  CHECK(c.stages[0].weight_grad_ms == doctest::Approx(3.0));  // 1.5 * 2
  CHECK(c.stages[0].forward_ms == doctest::Approx(2.0));
  CHECK(c.stages[0].output_bytes == 20);
  CHECK(c.stages[0].param_bytes == 100);  // weights do not scale
}

TEST_CASE("plan stages: replicas pay a ring all-reduce") {
  Plan plan;
  plan.microbatch_size = 2;
  plan.cluster = flat_cluster(4, 1000.0, 0.001);  // 1000 B/s, 1 ms
  plan.stages = {{{0, 1}, 2, {0, 1}}, {{2, 3}, 1, {2}}};
  StageCosts c = stage_costs_from_plan(four_layers(false), plan);
  // 2 (n-1) messages of 300/2 bytes: 2 * (1 ms + 150 ms)
  CHECK(c.stages[0].allreduce_ms == doctest::Approx(302.0));
  CHECK(c.stages[0].replicas == 2);
  // Two replicas take micro-batches in turn: one simulated rank twice as fast.
  CHECK(c.stages[0].forward_ms == doctest::Approx(1.5));
  CHECK(c.stages[1].forward_ms == doctest::Approx(7.0));
  CHECK(c.stages[1].allreduce_ms == 0);
  plan.stages[1].layers = {2, 9};
  CHECK_THROWS_AS(stage_costs_from_plan(four_layers(false), plan), InputError);
}

TEST_CASE("a profile's optimizer steps sum per stage, whatever the micro-batch size") {
  Profile p = four_layers(false);
  p.layers[0].step_ms = 0.5;  // layer 1 has no step_ms: it steps nothing
  p.layers[2].step_ms = 2.0;
  p.layers[3].step_ms = 3.0;
  // No optimizer named: the stages leave the step to SimOptions::step_ms.
  CHECK(stage_costs_from_layers(four_layers(false), {{0, 1}, {2, 3}}).stages[0].step_ms < 0);
  p.optimizer = "adam";
  StageCosts c = stage_costs_from_layers(p, {{0, 1}, {2, 3}}, 8);  // micro-batch 8, profiled at 2
  CHECK(c.stages[0].step_ms == doctest::Approx(0.5));
  CHECK(c.stages[1].step_ms == doctest::Approx(5.0));
  CHECK(c.stages[1].forward_ms == doctest::Approx(28.0));  // times per micro-batch do scale

  // Replicas step in parallel: once per step each for a flush schedule; after
  // each of their own micro-batches for pipedream, which the one simulated
  // rank (an update per micro-batch) charges at 1/r.
  Plan plan;
  plan.microbatch_size = 2;
  plan.cluster = flat_cluster(4, 1e9, 0);
  plan.stages = {{{0, 1}, 2, {0, 1}}, {{2, 3}, 1, {2}}};
  plan.schedule.kind = "1f1b";
  const StageCosts flush = stage_costs_from_plan(p, plan);
  CHECK(flush.stages[0].step_ms == doctest::Approx(0.5));
  // A flush schedule splits each micro-batch between the 2 replicas: each
  // keeps and sends half of its activations; the unreplicated stage all.
  CHECK(flush.stages[0].saved_bytes == 1500);
  CHECK(flush.stages[0].output_bytes == 10);
  CHECK(flush.stages[1].saved_bytes == 7000);
  CHECK(flush.stages[1].input_bytes == 20);
  plan.schedule.kind = "2bw";
  CHECK(stage_costs_from_plan(p, plan).stages[0].step_ms == doctest::Approx(0.5));
  plan.schedule.kind = "pipedream";
  StageCosts pd = stage_costs_from_plan(p, plan);
  CHECK(pd.stages[0].step_ms == doctest::Approx(0.25));
  CHECK(pd.stages[1].step_ms == doctest::Approx(5.0));
  CHECK(pd.stages[0].saved_bytes == 3000);  // one micro-batch in flight (microbatches unset): no share
}

TEST_CASE(
    "asynchronous replicas take whole micro-batches in turn: a replica keeps ceil(k/r) of the k in flight") {
  const Profile p = four_layers(false);
  Plan plan;
  plan.microbatch_size = 2;
  plan.cluster = flat_cluster(5, 1e9, 0);
  // Stage 0 (layers 0..1) on 2 replicas, then two single-rank stages.
  plan.stages = {{{0, 1}, 2, {0, 1}}, {{2}, 1, {2}}, {{3}, 1, {3}}};
  plan.schedule.microbatches = 8;
  plan.schedule.kind = "pipedream";
  StageCosts pd = stage_costs_from_plan(p, plan);
  // pipedream's first of 3 stages has 3 micro-batches in flight: 2 on the busier replica.
  CHECK(pd.stages[0].saved_bytes == 2000);  // 3000 x 2/3
  CHECK(pd.stages[0].output_bytes == 14);   // ceil(20 x 2/3)
  const StageCosts alone = stage_costs_from_layers(p, {{0, 1}, {2}, {3}});
  CHECK(pd.stages[0].workspace_bytes == alone.stages[0].workspace_bytes);  // a whole micro-batch per replica
  CHECK(pd.stages[1].saved_bytes == 3000);                                 // unreplicated: unchanged
  CHECK(pd.stages[0].forward_ms == doctest::Approx(1.5));
  // Its weight versions, one per micro-batch in flight, are shared out the same way.
  const ScheduleTraits& t = schedule_traits("pipedream");
  CHECK(weight_versions(t, 0, 3) == 3);
  CHECK(weight_versions(t, 0, 3, 2) == 2);
  CHECK(weight_versions(t, 0, 3, 3) == 1);
  CHECK(weight_versions(t, 2, 3, 4) == 1);
  CHECK(weight_versions(schedule_traits("2bw"), 0, 3, 2) == 2);  // 2bw double-buffers on every replica
  // 2bw keeps pipeline-depth in flight too; 4 replicas of a 2-stage pipeline's first stage hold one each.
  plan.stages = {{{0, 1}, 4, {0, 1, 2, 3}}, {{2, 3}, 1, {4}}};
  plan.schedule.kind = "2bw";
  StageCosts tbw = stage_costs_from_plan(p, plan);
  const int k = in_flight_microbatches(schedule_traits("2bw"), 0, 2, 8);
  CHECK(tbw.stages[0].saved_bytes == (3000 * ((k + 3) / 4) + k - 1) / k);
  CHECK(tbw.stages[0].saved_bytes < 3000);
}

TEST_CASE("synthetic costs split a rank's time over its chunks") {
  StageCosts c = synthetic_stage_costs(2, 2, 4.0, 8.0, 2.0, 50);
  REQUIRE(c.stages.size() == 4);
  CHECK(c.stages[1].forward_ms == doctest::Approx(2.0));
  CHECK(c.stages[1].weight_grad_ms == doctest::Approx(1.0));
  CHECK(c.stages[1].input_grad_ms == doctest::Approx(3.0));
  CHECK(c.stages[2].output_bytes == 50);
  CHECK(c.stages[3].output_bytes == 0);
  CHECK_THROWS_AS(synthetic_stage_costs(2, 1, 1.0, 2.0, 3.0), InputError);
}
