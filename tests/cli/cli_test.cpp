#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/formats.h"
#include "profiles/pipedream_graph.h"
#include "tests/support/run_command.h"

using namespace pipekit;
using namespace pipekit::test;

namespace {
std::string vgg16() {
  return std::string(PIPEKIT_PIPEDREAM_DIR) + "/vgg16/graph.txt";
}
}  // namespace

TEST_CASE("pipekit inspect --json prints the totals") {
  auto r = run_command(pipekit_cmd("inspect --json " + vgg16()));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["layers"] == 40);
  CHECK(j["forward_ms"].get<double>() == doctest::Approx(233.902));
  CHECK(j["backward_ms"].get<double>() == doctest::Approx(438.633));
  CHECK(j["param_bytes"].get<double>() == doctest::Approx(553430176.0));
  CHECK(j["chain"] == false);
}

TEST_CASE("pipekit inspect prints a layer table and a summary") {
  auto r = run_command(pipekit_cmd("inspect " + vgg16()));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("40 layers") != std::string::npos);
  CHECK(r.out.find("forward 233.90 ms, backward 438.63 ms") != std::string::npos);
  CHECK(r.out.find("parameters 138.4 M (553.4 MB at fp32)") != std::string::npos);
  CHECK(r.out.find("node41") != std::string::npos);
}

TEST_CASE("pipekit convert writes JSON that inspects the same") {
  TempDir dir;
  auto r = run_command(pipekit_cmd("convert " + vgg16() + " " + dir.file("vgg16.json")));
  REQUIRE(r.status == 0);
  Profile p = load_profile(dir.file("vgg16.json"));
  CHECK(p.layers.size() == 40);
  auto j1 = run_command(pipekit_cmd("inspect --json " + vgg16()));
  auto j2 = run_command(pipekit_cmd("inspect --json " + dir.file("vgg16.json")));
  CHECK(nlohmann::json::parse(j1.out) == nlohmann::json::parse(j2.out));
}

TEST_CASE("bad input exits 2 with one clear line, never a crash") {
  TempDir dir;
  write_file(dir.file("trunc.json"), R"({"format":"pipekit-profile/1","model":"m","layers":[{"name")");
  write_file(
      dir.file("cyc.json"),
      R"({"format":"pipekit-profile/1","model":"m","layers":[{"name":"a","forward_ms":1,"backward_ms":1,"param_bytes":0,"output_bytes":0},{"name":"b","forward_ms":1,"backward_ms":1,"param_bytes":0,"output_bytes":0}],"edges":[[0,1],[1,0]]})");
  write_file(dir.file("graph.txt"), "node1 -- X -- forward_compute_time=oops\n");
  struct Case {
    std::string args, fragment;
  } cases[] = {
      {"inspect " + dir.file("trunc.json"), "trunc.json: line 1"},
      {"inspect " + dir.file("cyc.json"), "cycle"},
      {"inspect " + dir.file("graph.txt"), "graph.txt: line 1"},
      {"inspect " + dir.file("missing.json"), "missing.json: cannot open"},
      {"inspect " + dir.path(), "is a directory"},
      {"convert " + vgg16() + " /nonexistent/dir/out.json", "cannot write"},
      {"inspect", "file is required"},
      {"frobnicate", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    auto r = run_command(pipekit_cmd(c.args));
    CHECK(r.status == 2);
    CHECK(r.err.find(c.fragment) != std::string::npos);
    CHECK(r.err.find("terminate called") == std::string::npos);
  }
}
