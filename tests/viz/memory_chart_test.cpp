#include <doctest/doctest.h>

#include "tests/support/test_timelines.h"
#include "tests/support/xml_check.h"
#include "viz/memory_chart.h"
#include "viz/timeline_summary.h"

using namespace pipekit;
using test::find_all;

TEST_SUITE_BEGIN("viz");

TEST_CASE("memory chart - one panel per rank and stacked terms and peak marked and device limit drawn") {
  test::TestTimelineOptions o;
  o.device_memory = 600'000'000;
  Timeline t = test::make_test_timeline(o);
  auto els = test::parse_xml(render_memory_svg(t));
  auto panels = find_all(els, "g", "mem-panel");
  REQUIRE(panels.size() == 4);
  for (const char* term : {"mem-weights", "mem-gradients", "mem-optimizer", "mem-activations", "mem-buffers"})
    CHECK(find_all(els, "polygon", term).size() == 4);
  auto peaks = find_all(els, "g", "mem-peak");
  REQUIRE(peaks.size() == 4);
  TimelineSummary s = summarize(t);
  for (auto* p : peaks)
    CHECK(std::stoll(p->attr("data-peak")) == s.ranks[std::stoi(p->attr("data-rank"))].peak_memory);
  bool peak_label = false;
  for (auto* x : find_all(els, "text")) peak_label |= x->text.rfind("peak 545.0 MB", 0) == 0;
  CHECK(peak_label);
  CHECK(find_all(els, "line", "mem-limit").size() == 4);
}

TEST_CASE("memory chart without a limit draws no limit line and without samples it says so") {
  Timeline t = test::make_test_timeline({});
  auto els = test::parse_xml(render_memory_svg(t));
  CHECK(find_all(els, "line", "mem-limit").empty());

  test::TestTimelineOptions o;
  o.memory = false;
  auto none = test::parse_xml(render_memory_svg(test::make_test_timeline(o)));
  CHECK(find_all(none, "text", "no-memory").size() == 1);

  Timeline zeros = test::make_test_timeline({});
  for (auto& m : zeros.memory) m = MemorySample{m.rank, m.time_ms};
  auto z = test::parse_xml(render_memory_svg(zeros));
  CHECK(find_all(z, "text", "no-memory").size() == 1);
  CHECK(find_all(z, "g", "mem-panel").empty());
}

TEST_CASE("memory chart of 32 ranks is valid and uses a grid of panels") {
  test::TestTimelineOptions o;
  o.ranks = 32;
  o.microbatches = 16;
  auto els = test::parse_xml(render_memory_svg(test::make_test_timeline(o)));
  auto panels = find_all(els, "g", "mem-panel");
  REQUIRE(panels.size() == 32);
}

TEST_SUITE_END();
