#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/formats.h"
#include "tests/support/run_command.h"
#include "tests/support/test_timelines.h"
#include "tests/support/xml_check.h"

using namespace pipekit;
using namespace pipekit::test;

TEST_SUITE_BEGIN("viz");

TEST_CASE("pipekit viz writes SVG and memory SVG and HTML and trace from a timeline file") {
  TempDir dir;
  write_text_file(dir.file("t.json"), timeline_to_json(make_test_timeline({})));
  auto r = run_command(pipekit_cmd("viz " + dir.file("t.json") + " --svg " + dir.file("g.svg") +
                                   " --memory-svg " + dir.file("m.svg") + " --html " + dir.file("r.html") +
                                   " --trace " + dir.file("t.trace.json") + " --title 'My run'"));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("compute bubble") != std::string::npos);
  CHECK(r.out.find("wrote gantt svg: " + dir.file("g.svg")) != std::string::npos);
  CHECK(r.out.find("wrote perfetto trace: ") != std::string::npos);
  auto g = parse_xml(slurp(dir.file("g.svg")));
  CHECK(find_all(g, "g", "rank-row").size() == 4);
  bool titled = false;
  for (auto* t : find_all(g, "text", "chart-title")) titled |= t->text == "My run";
  CHECK(titled);
  CHECK_NOTHROW(parse_xml(slurp(dir.file("m.svg"))));
  CHECK(slurp(dir.file("r.html")).find("<svg") != std::string::npos);
  CHECK(nlohmann::json::parse(slurp(dir.file("t.trace.json")))["traceEvents"].size() > 0);
}

TEST_CASE("pipekit simulate writes the same pictures straight from a simulation") {
  TempDir dir;
  auto r = run_command(
      pipekit_cmd("simulate --synthetic 4 --fwd 1 --bwd 2 --schedule 1f1b --microbatches 8 --svg " +
                  dir.file("g.svg") + " --memory-svg " + dir.file("m.svg") + " --html " + dir.file("r.html") +
                  " --trace " + dir.file("t.json") + " --json"));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  // stdout stays pure JSON; the list of written files goes to stderr.
  CHECK(nlohmann::json::parse(r.out)["step_time_ms"].get<double>() == doctest::Approx(33.0));
  CHECK(r.err.find("wrote html report: " + dir.file("r.html")) != std::string::npos);
  auto g = parse_xml(slurp(dir.file("g.svg")));
  CHECK(find_all(g, "g", "rank-row").size() == 4);
  std::string html = slurp(dir.file("r.html"));
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("samples/s") != std::string::npos);
  CHECK(nlohmann::json::parse(slurp(dir.file("t.json")))["traceEvents"].size() > 0);
  CHECK_NOTHROW(parse_xml(slurp(dir.file("m.svg"))));
}

TEST_CASE("pipekit viz with two timelines draws the comparison") {
  TempDir dir;
  write_text_file(dir.file("a.json"), timeline_to_json(make_test_timeline({})));
  TestTimelineOptions o;
  o.fwd = 1.5;
  write_text_file(dir.file("b.json"), timeline_to_json(make_test_timeline(o)));
  auto r = run_command(
      pipekit_cmd("viz " + dir.file("a.json") + " " + dir.file("b.json") + " --svg " + dir.file("c.svg")));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("wrote comparison svg") != std::string::npos);
  auto els = parse_xml(slurp(dir.file("c.svg")));
  CHECK(find_all(els, "g", "comparison-b").size() == 1);
}

TEST_CASE("pipekit viz rejects bad input with exit status 2 and a clear message") {
  TempDir dir;
  auto missing = run_command(pipekit_cmd("viz " + dir.file("nope.json") + " --svg " + dir.file("x.svg")));
  CHECK(missing.status == 2);
  CHECK(missing.err.find("nope.json") != std::string::npos);
  write_file(dir.file("bad.json"), "{\"format\": \"pipekit-timeline/1\", \"num_ranks\": 2");
  auto bad = run_command(pipekit_cmd("viz " + dir.file("bad.json") + " --svg " + dir.file("x.svg")));
  CHECK(bad.status == 2);
  CHECK(!std::filesystem::exists(dir.file("x.svg")));
  write_text_file(dir.file("t.json"), timeline_to_json(make_test_timeline({})));
  auto unwritable =
      run_command(pipekit_cmd("viz " + dir.file("t.json") + " --svg " + dir.file("no/such/dir/x.svg")));
  CHECK(unwritable.status == 2);
  CHECK(unwritable.err.find("cannot write") != std::string::npos);
}

TEST_SUITE_END();
