#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "core/formats.h"

using namespace pipekit;

TEST_CASE("cluster JSON round-trips and joins devices at the right level") {
  Cluster c;
  c.device_name = "V100";
  c.device_memory_bytes = 16'000'000'000;
  c.levels = {{8, 100e9, 1e-6}, {16, 10e9, 5e-6}};
  Cluster back = cluster_from_json(cluster_to_json(c), "c.json");
  CHECK(back.num_devices() == 128);
  CHECK(back.levels[1].bandwidth_bytes_per_s == doctest::Approx(10e9));
  CHECK(back.level_joining(0, 7) == 0);
  CHECK(back.level_joining(7, 8) == 1);
  CHECK(back.transfer_seconds(0, 1, 100e6) == doctest::Approx(1e-6 + 1e-3));
  CHECK(back.transfer_seconds(0, 9, 100e6) == doctest::Approx(5e-6 + 1e-2));
  CHECK_THROWS_WITH_AS(
      cluster_from_json(R"({"format":"pipekit-cluster/1","levels":[{"count":0,"bandwidth_bytes_per_s":1}]})",
                        "c.json"),
      doctest::Contains("$.levels[0]: count is 0"), InputError);
  CHECK_THROWS_WITH_AS(cluster_from_json(R"({"format":"pipekit-cluster/1","levels":[]})", "c.json"),
                       doctest::Contains("at least one level"), InputError);
}

TEST_CASE("plan JSON round-trips and is validated") {
  Plan p;
  p.model = "vgg16";
  p.stages = {{{0, 1, 2}, 3, {0, 1, 2}}, {{3, 4}, 1, {3}}};
  p.schedule.kind = "pipedream";
  p.schedule.microbatches = 4;
  p.cluster = flat_cluster(4, 1e9);
  p.predicted["time_per_minibatch_s"] = 0.205521;
  Plan back = plan_from_json(plan_to_json(p), "plan.json");
  CHECK(back.stages.size() == 2);
  CHECK(back.stages[0].replicas == 3);
  CHECK(back.stages[1].ranks == std::vector<int>{3});
  CHECK(back.num_ranks() == 4);
  CHECK(back.predicted.at("time_per_minibatch_s") == doctest::Approx(0.205521));
  CHECK_NOTHROW(validate(back, "plan.json", 5));
  CHECK_THROWS_WITH_AS(validate(back, "plan.json", 6), doctest::Contains("layer 5 is in no stage"),
                       InputError);
  CHECK_THROWS_WITH_AS(validate(back, "plan.json", 4), doctest::Contains("layer 4 does not exist"),
                       InputError);
  std::string bad = plan_to_json(p);
  bad.replace(bad.find("pipedream"), 9, "pipedreem");
  CHECK_THROWS_WITH_AS(plan_from_json(bad, "plan.json"), doctest::Contains("unknown schedule 'pipedreem'"),
                       InputError);
  p.stages[0].replicas = 2;
  CHECK_THROWS_WITH_AS(plan_from_json(plan_to_json(p), "plan.json"),
                       doctest::Contains("replicas is 2 but 3 ranks"), InputError);
}

TEST_CASE("plan JSON: per-stage recomputation round-trips, absent when unused, one entry per stage") {
  Plan p;
  p.model = "m";
  p.stages = {{{0}, 1, {0}}, {{1}, 1, {1}}};
  p.schedule.kind = "1f1b";
  p.schedule.microbatches = 4;
  p.cluster = flat_cluster(2, 1e9);
  CHECK(plan_to_json(p).find("recompute_stages") == std::string::npos);
  p.schedule.recompute_stages = {true, false};
  Plan back = plan_from_json(plan_to_json(p), "plan.json");
  CHECK(back.schedule.recompute_stages == std::vector<bool>{true, false});
  p.schedule.recompute_stages = {true};
  CHECK_THROWS_WITH_AS(plan_from_json(plan_to_json(p), "plan.json"), doctest::Contains("one per stage"),
                       InputError);
}

TEST_CASE("timeline JSON round-trips and is validated") {
  Timeline t;
  t.schedule = "1f1b";
  t.num_ranks = 2;
  t.step_time_ms = 10;
  t.events.push_back({0, Stream::compute, {0, ActionType::F, 0}, 0, 1, -1, 0, -1});
  t.events.push_back({0, Stream::send, {0, ActionType::SEND_F, 0}, 1, 1.5, 1, 4096, -1});
  t.events.push_back({1, Stream::compute, {1, ActionType::B, 0}, 2, 4, -1, 0, 2, 1.25});
  t.memory.push_back({1, 2.0, 100, 100, 200, 50, 8});
  Timeline back = timeline_from_json(timeline_to_json(t), "t.json");
  REQUIRE(back.events.size() == 3);
  CHECK(back.events[0].work_ms == -1);  // not measured: absent from the file
  CHECK(back.events[2].work_ms == 1.25);
  CHECK(timeline_to_json(t).find("\"work_ms\":1.25") != std::string::npos);
  CHECK(back.events[1].stream == Stream::send);
  CHECK(back.events[1].peer == 1);
  CHECK(back.events[1].bytes == 4096);
  CHECK(back.events[2].weight_version == 2);
  CHECK(back.events[2].action == Action{1, ActionType::B, 0});
  CHECK(back.memory[0].total() == 458);
  t.events[0].end_ms = -3;
  CHECK_THROWS_WITH_AS(timeline_from_json(timeline_to_json(t), "t.json"), doctest::Contains("$.events[0]"),
                       InputError);
  t.events[0].end_ms = 1;
  t.events[0].rank = 5;
  CHECK_THROWS_WITH_AS(timeline_from_json(timeline_to_json(t), "t.json"),
                       doctest::Contains("rank 5 is outside 0..1"), InputError);
  t.events[0].rank = 0;
  std::string text = timeline_to_json(t);
  const std::string key = "\"work_ms\":1.25";
  text.replace(text.find(key), key.size(), "\"work_ms\":-2.0");
  CHECK_THROWS_WITH_AS(timeline_from_json(text, "t.json"), doctest::Contains("work_ms must be >= 0"),
                       InputError);
  t.events[2].work_ms = std::nan("");
  CHECK_THROWS_WITH_AS(validate(t, "t.json"), doctest::Contains("$.events[2].work_ms"), InputError);
}

TEST_CASE("files: missing file and atomic write") {
  CHECK_THROWS_WITH_AS(read_text_file("/nonexistent/x.json"),
                       doctest::Contains("/nonexistent/x.json: cannot open"), InputError);
  CHECK_THROWS_WITH_AS(read_text_file("/tmp"), doctest::Contains("is a directory"), InputError);
  CHECK_THROWS_AS(write_text_file("/nonexistent/dir/x.json", "{}"), InputError);
}
