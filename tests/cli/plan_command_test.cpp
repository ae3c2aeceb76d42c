// `pipekit plan` end to end.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "core/formats.h"
#include "tests/support/run_command.h"

using namespace pipekit;
using namespace pipekit::test;

namespace {
std::string vgg16() {
  return std::string(PIPEKIT_PIPEDREAM_DIR) + "/vgg16/graph.txt";
}
}  // namespace

TEST_CASE("plan --json reproduces PipeDream's vgg16 plan and --out writes a readable Plan") {
  TempDir dir;
  auto r = run_command(pipekit_cmd("plan --profile " + vgg16() +
                                   " --devices 4 --bandwidth 1GB/s --cost-model pipedream --json --out " +
                                   dir.file("plan.json")));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["stages"].size() == 2);
  CHECK(j["stages"][0]["replicas"] == 3);
  CHECK(j["stages"][0]["ranks"] == nlohmann::json::array({0, 1, 2}));
  CHECK(j["stages"][1]["ranks"] == nlohmann::json::array({3}));
  CHECK(j["predicted"]["time_per_minibatch_s"].get<double>() == doctest::Approx(0.205521).epsilon(1e-6));
  Plan plan = plan_from_json(slurp(dir.file("plan.json")), "plan.json");
  CHECK(plan.stages.size() == 2);
  CHECK(plan.cost_model == "pipedream");
  CHECK(plan.predicted.at("time_per_minibatch_s") == doctest::Approx(0.205521).epsilon(1e-6));
}

TEST_CASE("plan prints a stage table with layer names and the speed-up") {
  auto r = run_command(pipekit_cmd("plan --profile " + vgg16() + " --devices 4 --cost-model pipedream"));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("node19") != std::string::npos);
  CHECK(r.out.find("0.205521") != std::string::npos);
  CHECK(r.out.find("speed-up 3.27x") != std::string::npos);
}

TEST_CASE("plan --method exact and DeepSpeed methods give one device per stage") {
  for (const std::string method : {"exact", "uniform", "parameters", "type:conv"}) {
    CAPTURE(method);
    auto r =
        run_command(pipekit_cmd("plan --profile " + vgg16() + " --devices 4 --method " + method + " --json"));
    REQUIRE(r.status == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["stages"].size() == 4);
    CHECK(j["schedule"]["kind"] == "1f1b");
    for (const auto& s : j["stages"]) CHECK(s["replicas"] == 1);
  }
}

TEST_CASE("plan rejects bad input with exit status 2") {
  for (const std::string args :
       {"--devices 0", "--devices 4 --bandwidth fast", "--devices 4,2 --bandwidth 1e9",
        "--devices 4 --memory lots", "--devices 4 --cost-model magic", "--devices 4 --method greedy",
        "--devices 4 --schedule dance", "--devices 4 --method exact --memory 1MB",
        "--devices 4 --memory 1MB"}) {
    CAPTURE(args);
    auto r = run_command(pipekit_cmd("plan --profile " + vgg16() + " " + args));
    CHECK(r.status == 2);
    CHECK(r.err.find("error") != std::string::npos);
  }
  auto r = run_command(pipekit_cmd("plan --profile /nonexistent/graph.txt --devices 2"));
  CHECK(r.status == 2);
}

TEST_CASE("plan --search prints a ranked table and writes the best plan") {
  TempDir dir;
  auto r =
      run_command(pipekit_cmd("plan --profile " + vgg16() +
                              " --devices 4 --memory 16GB --search --top 3 --out " + dir.file("best.json")));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("ms/sample") != std::string::npos);
  CHECK(r.out.find("simulated") != std::string::npos);
  CHECK(r.out.find("why #1 won") != std::string::npos);
  CHECK(r.out.find("bubble:") != std::string::npos);
  CHECK(r.out.find("best of each other schedule") != std::string::npos);
  Plan best = plan_from_json(slurp(dir.file("best.json")), "best.json");
  CHECK(best.num_ranks() == 4);
  CHECK(best.predicted.count("time_per_minibatch_s") == 1);
  CHECK(best.predicted.count("time_per_sample_ms") == 1);
}

TEST_CASE("plan --search --schedule takes a comma list, or flush for every synchronous schedule") {
  // The schedule column of the ranked rows (lines that start with their rank).
  auto kinds = [](const std::string& out) {
    std::set<std::string> k;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string rank, kind;
      const bool ranked = words >> rank >> kind && std::all_of(rank.begin(), rank.end(), [](char c) {
                            return std::isdigit(static_cast<unsigned char>(c)) != 0;
                          });
      if (ranked) k.insert(kind);
    }
    return k;
  };
  const std::string base = "plan --profile " + vgg16() + " --devices 4 --search --top 200";
  auto all = run_command(pipekit_cmd(base));
  REQUIRE(all.status == 0);
  CHECK(kinds(all.out).count("pipedream") == 1);  // the unnarrowed search ranks asynchronous plans too
  auto flush = run_command(pipekit_cmd(base + " --schedule flush"));
  REQUIRE(flush.status == 0);
  const std::set<std::string> f = kinds(flush.out);
  CHECK(f.count("1f1b") == 1);
  CHECK(f.count("pipedream") == 0);
  CHECK(f.count("2bw") == 0);
  auto two = run_command(pipekit_cmd(base + " --schedule gpipe,1f1b,gpipe"));
  REQUIRE(two.status == 0);
  CHECK(kinds(two.out) == std::set<std::string>{"1f1b", "gpipe"});
  auto bad = run_command(pipekit_cmd(base + " --schedule 1f1b,nope"));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("'nope'") != std::string::npos);
}

TEST_CASE(
    "plan --search takes micro-batch counts and a global batch, and --peer scores another system's plan") {
  auto r = run_command(
      pipekit_cmd("plan --profile " + vgg16() + " --devices 4 --search --microbatch-counts 3,5-6 --json"));
  REQUIRE(r.status == 0);
  Plan p = plan_from_json(r.out, "out");
  CHECK((p.schedule.microbatches == 3 || p.schedule.microbatches == 5 || p.schedule.microbatches == 6));
  r = run_command(
      pipekit_cmd("plan --profile " + vgg16() + " --devices 4 --search --global-batch 1024 --json"));
  REQUIRE(r.status == 0);
  p = plan_from_json(r.out, "out");
  CHECK(p.schedule.microbatches * p.microbatch_size == 1024);
  r = run_command(
      pipekit_cmd("plan --profile " + vgg16() + " --devices 4 --peer deepspeed --global-batch 1024"));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("peer deepspeed") != std::string::npos);
  r = run_command(pipekit_cmd("plan --profile " + vgg16() + " --devices 4 --peer alpa"));
  CHECK(r.status == 2);
  r = run_command(pipekit_cmd("plan --profile " + vgg16() + " --profile " + vgg16() + " --devices 4"));
  CHECK(r.status == 2);
}

TEST_CASE("plan --schedule zb-auto records the cost hint, and simulate builds the same order from it") {
  TempDir dir;
  const std::string alexnet = std::string(PIPEKIT_SOURCE_DIR) + "/profiles/pipedream/alexnet.json";
  auto r =
      run_command(pipekit_cmd("plan --profile " + alexnet +
                              " --devices 4 --method exact --schedule zb-auto --microbatches 8 --memory 8GiB "
                              "--out " +
                              dir.file("plan.json")));
  REQUIRE(r.status == 0);
  Plan plan = plan_from_json(slurp(dir.file("plan.json")), "plan.json");
  const ScheduleCostHint& h = plan.schedule.cost_hint;
  REQUIRE(h.has_costs());
  CHECK(h.forward_ms.size() == 4);
  CHECK(h.max_pending_backward.size() == 4);  // from --memory
  // The order simulate runs is the one the hint makes: faster than zb-h1 under the same hint.
  auto a = run_command(pipekit_cmd("simulate --plan " + dir.file("plan.json") + " --json"));
  auto b = run_command(pipekit_cmd("simulate --plan " + dir.file("plan.json") + " --schedule zb-h1 --json"));
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  const double auto_ms = nlohmann::json::parse(a.out)["step_time_ms"].get<double>();
  const double h1_ms = nlohmann::json::parse(b.out)["step_time_ms"].get<double>();
  CHECK(auto_ms < h1_ms);
  // Without a plan, simulate fills the hint from the profile itself.
  auto c = run_command(pipekit_cmd("simulate --profile " + alexnet +
                                   " --stages 4 --schedule zb-auto "
                                   "--microbatches 8 --json"));
  auto d = run_command(pipekit_cmd("simulate --profile " + alexnet +
                                   " --stages 4 --schedule zb-h1 "
                                   "--microbatches 8 --json"));
  REQUIRE(c.status == 0);
  REQUIRE(d.status == 0);
  CHECK(nlohmann::json::parse(c.out)["step_time_ms"].get<double>() <
        nlohmann::json::parse(d.out)["step_time_ms"].get<double>());
}
