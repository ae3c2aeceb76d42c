// The terminal chart: one line per rank, width respected, idle shown.
#include <doctest/doctest.h>

#include <sstream>

#include "tests/support/sim_test_support.h"
#include "viz/terminal_chart.h"

using namespace pipekit;

TEST_CASE("terminal chart draws each rank's actions and bubbles within the width") {
  Schedule s = pipekit::test::make_schedule("gpipe", 4, 4);
  SimulationResult r = pipekit::test::run_synthetic(s, 1.0, 2.0);
  std::string chart = render_terminal_chart(r.timeline, 3 + 21);  // 21 columns, 1 ms each
  std::istringstream in(chart);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() >= 6);
  for (int i = 0; i < 4; ++i) {
    CHECK(lines[i].rfind("r" + std::to_string(i) + " ", 0) == 0);
    CHECK(lines[i].size() == 24);
  }
  // Rank 0: forwards of micro-batches 0..3 in the first four columns, then idle.
  CHECK(lines[0].substr(3, 5) == "FfFf.");
  // Rank 3 waits three columns before its first forward.
  CHECK(lines[3].substr(3, 4) == "...F");
  // Step time on the scale line.
  CHECK(chart.find("21.00 ms") != std::string::npos);
}
