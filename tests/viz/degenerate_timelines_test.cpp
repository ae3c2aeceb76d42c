#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/support/test_timelines.h"
#include "tests/support/xml_check.h"
#include "viz/chrome_trace.h"
#include "viz/comparison_chart.h"
#include "viz/gantt_chart.h"
#include "viz/html_report.h"
#include "viz/memory_chart.h"

using namespace pipekit;

TEST_SUITE_BEGIN("viz");

TEST_CASE("every renderer copes with degenerate timelines") {
  std::vector<Timeline> cases(4);
  cases[0].num_ranks = 0;  // nothing at all
  cases[1].num_ranks = 2;  // only zero-length events at time 0
  for (int r = 0; r < 2; ++r) {
    TimelineEvent e;
    e.rank = r;
    e.action = {r, ActionType::F, 0};
    cases[1].events.push_back(e);
  }
  cases[2] = test::make_test_timeline({});  // very long times
  for (auto& e : cases[2].events) e.start_ms *= 1e6, e.end_ms *= 1e6;
  cases[2].step_time_ms *= 1e6;
  cases[3] = test::make_test_timeline({});  // events only, no step time recorded
  cases[3].step_time_ms = 0;
  for (const Timeline& t : cases) {
    CHECK_NOTHROW(test::parse_xml(render_gantt_svg(t)));
    CHECK_NOTHROW(test::parse_xml(render_memory_svg(t)));
    CHECK_NOTHROW(test::parse_xml(render_comparison_svg(t, t)));
    CHECK(nlohmann::json::parse(render_chrome_trace(t)).is_object());
    CHECK(render_html_report(t).find("</html>") != std::string::npos);
  }
}

TEST_CASE("Perfetto trace of an empty timeline is valid JSON with no events") {
  Timeline t;
  t.num_ranks = 0;
  auto j = nlohmann::json::parse(render_chrome_trace(t));
  CHECK(j["traceEvents"].empty());
}

TEST_SUITE_END();
