// pipekit simulate, run as a user would.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/formats.h"
#include "tests/support/run_command.h"
#include "tests/support/sim_test_support.h"

using pipekit::test::pipekit_cmd;
using pipekit::test::run_command;

TEST_CASE("simulate --synthetic 1f1b prints step time 33 ms as JSON") {
  auto r = run_command(
      pipekit_cmd("simulate --synthetic 4 --fwd 1 --bwd 2 --schedule 1f1b --microbatches 8 --json"));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["step_time_ms"].get<double>() == doctest::Approx(33.0));
  CHECK(j["bubble_fraction"].get<double>() == doctest::Approx(3.0 / 11.0));
  REQUIRE(j["ranks"].size() == 4);
  for (int s = 0; s < 4; ++s) {
    CHECK(j["ranks"][s]["busy_ms"].get<double>() == doctest::Approx(24.0));
    CHECK(j["ranks"][s]["peak_inflight_microbatches"].get<int>() == 4 - s);
    CHECK(j["ranks"][s].contains("peak_memory_bytes"));
  }
}

TEST_CASE("simulate prints a table and a chart, writes timeline and schedule, reads the schedule back") {
  pipekit::test::TempDir dir;
  auto r =
      run_command(pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --schedule gpipe --microbatches 4 "
                              "--bandwidth 2GB/s --latency 0 --activation-bytes 1MB --width 60 --timeline " +
                              dir.file("t.json") + " --write-schedule " + dir.file("s.csv")));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("step time") != std::string::npos);
  CHECK(r.out.find("r0 ") != std::string::npos);
  CHECK(r.out.find("r1 ") != std::string::npos);
  auto t = nlohmann::json::parse(pipekit::test::slurp(dir.file("t.json")));
  CHECK(t.contains("events"));
  // Same schedule from the CSV it wrote: same step time.
  auto a =
      run_command(pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --schedule gpipe --microbatches 4 "
                              "--bandwidth 2GB/s --latency 0 --activation-bytes 1MB --json"));
  auto b =
      run_command(pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --schedule-csv " + dir.file("s.csv") +
                              " --bandwidth 2GB/s --latency 0 --activation-bytes 1MB --json"));
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  double sa = nlohmann::json::parse(a.out)["step_time_ms"].get<double>();
  double sb = nlohmann::json::parse(b.out)["step_time_ms"].get<double>();
  CHECK(sa == doctest::Approx(sb));
  CHECK(sa == doctest::Approx(5 * 3.0 + 2 * 0.5));  // (m+p-1)(F+B) + one 0.5 ms transfer each way
}

TEST_CASE("simulate rejects bad flags with exit status 2 and a message") {
  auto no_costs = run_command(pipekit_cmd("simulate --schedule 1f1b --microbatches 4"));
  CHECK(no_costs.status == 2);
  CHECK(no_costs.err.find("--synthetic") != std::string::npos);
  auto bad_kind =
      run_command(pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --schedule nope --microbatches 4"));
  CHECK(bad_kind.status == 2);
  CHECK(bad_kind.err.find("unknown schedule") != std::string::npos);
  auto bad_bw = run_command(pipekit_cmd(
      "simulate --synthetic 2 --fwd 1 --bwd 2 --schedule 1f1b --microbatches 4 --bandwidth fast"));
  CHECK(bad_bw.status == 2);
  CHECK(bad_bw.err.find("--bandwidth") != std::string::npos);
  auto no_fwd = run_command(pipekit_cmd("simulate --synthetic 2 --schedule 1f1b --microbatches 4"));
  CHECK(no_fwd.status == 2);
  auto unknown_flag = run_command(pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --frobnicate"));
  CHECK(unknown_flag.status == 2);
}

TEST_CASE("simulate reports a deadlocked schedule file naming every rank") {
  pipekit::test::TempDir dir;
  pipekit::test::write_file(dir.file("bad.txt"), "rank 0: 0F0 0B0\nrank 1: 1B0 1F0\n");
  auto r = run_command(
      pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --schedule-file " + dir.file("bad.txt")));
  CHECK(r.status == 2);
  CHECK(r.err.find("rank 0: blocked") != std::string::npos);
  CHECK(r.err.find("rank 1: blocked") != std::string::npos);
}

TEST_CASE("simulate --profile --stages and --plan agree with the library") {
  pipekit::test::TempDir dir;
  pipekit::Profile prof;
  prof.model = "toy";
  prof.microbatch_size = 4;
  prof.input_bytes = 1000;
  for (int i = 0; i < 6; ++i) {
    pipekit::Layer l;
    l.name = "l" + std::to_string(i);
    l.forward_ms = 1.0 + i % 2;
    l.backward_ms = 2.0 + i % 3;
    l.param_bytes = 1000;
    l.output_bytes = 100000;
    l.saved_bytes = 200000;
    prof.layers.push_back(l);
  }
  pipekit::write_text_file(dir.file("p.json"), pipekit::profile_to_json(prof));
  pipekit::Plan plan;
  plan.model = "toy";
  plan.profile_path = dir.file("p.json");
  plan.microbatch_size = 4;
  plan.stages = {{{0, 1}, 1, {0}}, {{2, 3, 4}, 1, {1}}, {{5}, 1, {2}}};
  plan.schedule.kind = "1f1b";
  plan.schedule.microbatches = 6;
  plan.cluster = pipekit::flat_cluster(3, 1e8, 1e-4);
  pipekit::write_text_file(dir.file("plan.json"), pipekit::plan_to_json(plan));

  pipekit::Schedule s = pipekit::test::make_schedule("1f1b", 3, 6);
  pipekit::SimulationResult expect =
      pipekit::simulate(s, pipekit::stage_costs_from_plan(prof, plan), plan.cluster);

  auto a = run_command(pipekit_cmd("simulate --plan " + dir.file("plan.json") + " --json"));
  REQUIRE(a.status == 0);
  CHECK(nlohmann::json::parse(a.out)["step_time_ms"].get<double>() ==
        doctest::Approx(expect.metrics.step_time_ms));
  auto b = run_command(pipekit_cmd("simulate --profile " + dir.file("p.json") +
                                   " --stages 0-1,2-4,5 --schedule 1f1b --microbatches 6 --bandwidth 1e8 "
                                   "--latency 1e-4 --json"));
  REQUIRE(b.status == 0);
  auto jb = nlohmann::json::parse(b.out);
  CHECK(jb["step_time_ms"].get<double>() == doctest::Approx(expect.metrics.step_time_ms));
  CHECK(jb["ranks"][0]["peak_memory_bytes"].get<long long>() == expect.metrics.ranks[0].peak_memory_bytes);
  auto bad = run_command(pipekit_cmd("simulate --profile " + dir.file("p.json") +
                                     " --stages 0-1,2-9 --schedule 1f1b --microbatches 6"));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("outside the profile") != std::string::npos);
}

TEST_CASE("simulate --shared-device: ranks on one device worth one rank take the serial time") {
  // gpipe, 2 ranks, 16 micro-batches of 1 + 2 ms: 51 ms with a device each;
  // sharing one device the step is all the work, 2 x 16 x 3 = 96 ms.
  auto r = run_command(pipekit_cmd(
      "simulate --synthetic 2 --fwd 1 --bwd 2 --schedule gpipe --microbatches 16 --shared-device 1 --json"));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["dedicated_step_ms"].get<double>() == doctest::Approx(51.0));
  CHECK(j["step_time_ms"].get<double>() == doctest::Approx(96.0).epsilon(0.01));
  CHECK(j["shared_device_capacity"].get<double>() == 1.0);
  auto text = run_command(pipekit_cmd(
      "simulate --synthetic 2 --fwd 1 --bwd 2 --schedule gpipe --microbatches 16 --shared-device 2"));
  REQUIRE(text.status == 0);
  CHECK(text.out.find("shared device: all 2 ranks on one device worth 2 rank(s)") != std::string::npos);
  auto bad =
      run_command(pipekit_cmd("simulate --synthetic 2 --fwd 1 --bwd 2 --schedule gpipe --shared-device 0"));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--shared-device") != std::string::npos);
}
