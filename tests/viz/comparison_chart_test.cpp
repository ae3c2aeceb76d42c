#include <doctest/doctest.h>

#include <algorithm>

#include "tests/support/test_timelines.h"
#include "tests/support/xml_check.h"
#include "viz/comparison_chart.h"

using namespace pipekit;
using test::find_all;

TEST_SUITE_BEGIN("viz");

namespace {
// Right edge of the last compute box under the group with class `cls`.
double right_edge(const std::vector<test::XmlElement>& els, const std::string& cls) {
  int root = -1;
  for (std::size_t i = 0; i < els.size(); ++i)
    if (els[i].has_class(cls)) root = static_cast<int>(i);
  REQUIRE(root >= 0);
  double best = 0;
  for (std::size_t i = 0; i < els.size(); ++i) {
    if (!els[i].has_class("ev-compute")) continue;
    int p = els[i].parent;
    while (p >= 0 && p != root) p = els[p].parent;
    if (p == root) best = std::max(best, std::stod(els[i].attr("x")) + std::stod(els[i].attr("width")));
  }
  return best;
}
}  // namespace

TEST_CASE("comparison chart draws both timelines on one time scale each labelled") {
  Timeline a = test::make_test_timeline({});
  test::TestTimelineOptions slow;
  slow.fwd = 2;
  slow.bwd = 4;
  Timeline b = test::make_test_timeline(slow);
  b.source = "measured";
  REQUIRE(b.step_time_ms > 1.8 * a.step_time_ms);
  auto els = test::parse_xml(render_comparison_svg(a, b));
  CHECK(find_all(els, "g", "comparison-a").size() == 1);
  CHECK(find_all(els, "g", "comparison-b").size() == 1);
  CHECK(find_all(els, "g", "rank-row").size() == 8);
  std::string titles;
  for (auto* x : find_all(els, "text", "chart-title")) titles += x->text + "|";
  CHECK(titles.find("A: predicted gpipe") != std::string::npos);
  CHECK(titles.find("B: measured gpipe") != std::string::npos);
  // Same scale: the faster run ends about half-way along the slower one.
  double ea = right_edge(els, "comparison-a"), eb = right_edge(els, "comparison-b");
  CHECK(ea < 0.62 * eb);
  CHECK(ea > 0.4 * eb);
  // The shorter run marks where its step ends; the longer one fills the scale.
  CHECK(find_all(els, "line", "step-end").size() == 1);
}

TEST_SUITE_END();
