// Exact straight partitioning under memory limits.
#include <doctest/doctest.h>

#include "core/error.h"
#include "planner/straight_partitioner.h"
#include "tests/support/planner_test_support.h"

using namespace pipekit;

TEST_CASE("[5,1,1,1,1,1,1,5] into 3 stages: largest stage 6 (a greedy block split gives 8)") {
  Profile p = test::chain_profile({5, 1, 1, 1, 1, 1, 1, 5});
  StraightOptions o;
  o.stages = 3;
  StraightResult r = straight_partition(p, o);
  CHECK(r.max_stage_ms == doctest::Approx(6));
  REQUIRE(r.stages.size() == 3);
  CHECK(r.stages.front().first == 0);
  CHECK(r.stages.back().last == 7);
  for (std::size_t s = 1; s < r.stages.size(); ++s) CHECK(r.stages[s].first == r.stages[s - 1].last + 1);
  for (const auto& s : r.stages) CHECK(s.time_ms <= 6 + 1e-9);
}

TEST_CASE("in-flight micro-batches per schedule") {
  CHECK(in_flight_microbatches("1f1b", 0, 4, 8) == 4);
  CHECK(in_flight_microbatches("1f1b", 3, 4, 8) == 1);
  CHECK(in_flight_microbatches("1f1b", 0, 4, 2) == 2);
  CHECK(in_flight_microbatches("gpipe", 3, 4, 8) == 8);
  CHECK(in_flight_microbatches("zb-h2", 0, 4, 16) == 7);
  CHECK(in_flight_microbatches("naive", 0, 4, 16) == 1);
}

TEST_CASE("stage memory: weights, gradients, Adam state and activations in flight") {
  Profile p = test::chain_profile({1, 1, 1, 1}, 100, 10, 1000);
  p.input_bytes = 7;
  StraightOptions o;
  o.stages = 2;
  o.schedule.kind = "1f1b";
  o.schedule.microbatches = 8;
  // Stage 0 of 2 holds layers 0..1: params 200 x 4 + saved 2000 x 2 in flight.
  CHECK(straight_stage_memory(p, o, 0, 0, 1) == doctest::Approx(800 + 4000));
  CHECK(straight_stage_memory(p, o, 1, 2, 3) == doctest::Approx(800 + 2000));
  o.schedule.kind = "gpipe";
  CHECK(straight_stage_memory(p, o, 1, 2, 3) == doctest::Approx(800 + 16000));
  // Recomputation keeps the stage input per micro-batch plus one full set.
  o.schedule.recompute = Recompute::always;
  CHECK(straight_stage_memory(p, o, 0, 0, 1) == doctest::Approx(800 + 7 * 8 + 2000));
  CHECK(straight_stage_memory(p, o, 1, 2, 3) == doctest::Approx(800 + 10 * 8 + 2000));
}

TEST_CASE(
    "stage memory of a replicated stage: a flush replica holds its share, an asynchronous one whole "
    "micro-batches") {
  Profile p = test::chain_profile({1, 1, 1, 1}, 100, 10, 1000);
  StraightOptions o;
  o.stages = 2;
  o.schedule.kind = "1f1b";
  o.schedule.microbatches = 8;
  o.replicas = 2;
  // 1f1b splits each micro-batch between the 2 replicas: saved 2000 x 2 in flight / 2.
  CHECK(straight_stage_memory(p, o, 0, 0, 1) == doctest::Approx(800 + 2000));
  // Each micro-batch twice the profile's rows (Megatron's d x b), split in 2: as unreplicated.
  o.microbatch_rows = 2;
  CHECK(straight_stage_memory(p, o, 0, 0, 1) == doctest::Approx(800 + 4000));
  // pipedream, 3 stages: stage 0 has 3 micro-batches in flight and stashes 3
  // weight versions; 2 replicas take them in turn, the busier one 2 of them
  // (with 2 versions), each whole.
  o.microbatch_rows = 1;
  o.stages = 3;
  o.schedule.kind = "pipedream";
  o.replicas = 1;
  CHECK(straight_stage_memory(p, o, 0, 0, 1) == doctest::Approx(200 * 4 + 200 * 2 + 2000 * 3));
  o.replicas = 2;
  CHECK(straight_stage_memory(p, o, 0, 0, 1) == doctest::Approx(200 * 4 + 200 * 1 + 2000 * 2));
}

TEST_CASE("a split that fits only because replicas share the activations is found") {
  Profile p = test::chain_profile({1, 1, 1, 1}, 0, 0, 100);
  StraightOptions o;
  o.stages = 1;
  o.schedule.kind = "1f1b";
  o.schedule.microbatches = 4;
  o.memory_bytes = 250;  // one stage of 4 layers keeps 400 per micro-batch
  CHECK_THROWS_AS(straight_partition(p, o), InputError);
  o.replicas = 2;  // 1f1b: each replica keeps half of every micro-batch
  const StraightResult r = straight_partition(p, o);
  REQUIRE(r.stages.size() == 1);
  CHECK(r.stages[0].memory_bytes == doctest::Approx(200));
}

TEST_CASE("memory limits move boundaries away from the fastest split") {
  // Equal times; the first stage of 1F1B holds 2 micro-batches, the second 1, so
  // with a tight limit the first stage must take fewer layers.
  Profile p = test::chain_profile({1, 1, 1, 1}, 0, 0, 100);
  StraightOptions o;
  o.stages = 2;
  o.schedule.microbatches = 4;
  StraightResult free = straight_partition(p, o);
  CHECK(free.stages[0].last == 1);
  o.memory_bytes = 300;  // stage 0 with 2 layers needs 400
  StraightResult tight = straight_partition(p, o);
  CHECK(tight.stages[0].last == 0);
  CHECK(tight.max_stage_ms == doctest::Approx(3));
  for (const auto& s : tight.stages) CHECK(s.memory_bytes <= 300);
}

TEST_CASE("transfers count when a bandwidth is given") {
  // Cutting after layer 0 moves 1e9 bytes (1 s = 1000 ms at 1 GB/s each way);
  // cutting after layer 1 moves almost nothing.
  Profile p = test::chain_profile({10, 10, 10});
  p.layers[0].output_bytes = 1'000'000'000;
  p.layers[1].output_bytes = 1000;
  StraightOptions o;
  o.stages = 2;
  o.bandwidth = 1e9;
  StraightResult r = straight_partition(p, o);
  CHECK(r.stages[0].last == 1);
  CHECK(r.max_stage_ms == doctest::Approx(20.001));
}

TEST_CASE("nothing fits: the error names the stage, its need, the schedule and the limit") {
  Profile p = test::chain_profile({1, 1, 1, 1}, 1'000'000'000, 0, 1'000'000);
  StraightOptions o;
  o.stages = 2;
  o.schedule.kind = "1f1b";
  o.schedule.microbatches = 4;
  o.memory_bytes = 1e9;
  try {
    straight_partition(p, o);
    FAIL("expected InputError");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(e.source() == "--memory");
    CHECK(msg.find("stage") != std::string::npos);
    CHECK(msg.find("1f1b") != std::string::npos);
    CHECK(msg.find("8.0 GB") != std::string::npos);  // 2 layers x 1 GB x 4
    CHECK(msg.find("1.0 GB") != std::string::npos);  // the limit
  }
  o.stages = 5;
  CHECK_THROWS_AS(straight_partition(p, o), InputError);  // more stages than layers
}
