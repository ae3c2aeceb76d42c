#include <doctest/doctest.h>

#include <fmt/format.h>

#include <set>

#include "tests/support/test_timelines.h"
#include "tests/support/xml_check.h"
#include "viz/gantt_chart.h"
#include "viz/timeline_summary.h"

using namespace pipekit;
using test::find_all;

TEST_SUITE_BEGIN("viz");

namespace {
int count_compute(const Timeline& t) {
  int n = 0;
  for (const auto& e : t.events) n += e.stream == Stream::compute;
  return n;
}
std::string all_text(const std::vector<test::XmlElement>& els, const std::string& cls) {
  std::string s;
  for (auto* e : find_all(els, "text", cls)) s += e->text + "\n";
  return s;
}
}  // namespace

TEST_CASE("Gantt chart of 4 ranks x 8 micro-batches - rows and boxes and labels and legend and heading") {
  Timeline t = test::make_test_timeline({});
  std::string svg = render_gantt_svg(t);
  auto els = test::parse_xml(svg);
  CHECK(els[0].tag == "svg");
  CHECK(els[0].attr("xmlns") == "http://www.w3.org/2000/svg");

  CHECK(find_all(els, "g", "rank-row").size() == 4);
  auto boxes = find_all(els, "rect", "ev-compute");
  CHECK(boxes.size() == static_cast<std::size_t>(count_compute(t)));
  CHECK(find_all(els, "rect", "ev-send").size() == 3 * 8 * 2);
  CHECK(find_all(els, "rect", "ev-recv").size() == 3 * 8 * 2);
  for (auto* b : boxes) {
    REQUIRE(b->children.size() == 1);
    const auto& title = els[b->children[0]];
    CHECK(title.tag == "title");
    CHECK(title.text.find("rank " + b->attr("data-rank")) != std::string::npos);
    CHECK(!b->attr("data-start").empty());
    CHECK(std::stod(b->attr("data-end")) >= std::stod(b->attr("data-start")));
  }
  // Every forward and backward is wide enough here to carry its micro-batch label.
  std::string labels = all_text(els, "label");
  for (int k = 0; k < 8; ++k) {
    CHECK(labels.find(fmt::format("{}\n", k)) != std::string::npos);
    CHECK(labels.find(fmt::format("B{}\n", k)) != std::string::npos);
  }
  CHECK(find_all(els, "text", "label").size() == boxes.size());

  auto legend = find_all(els, "g", "legend");
  REQUIRE(legend.size() == 1);
  std::string legend_text;
  for (int c : legend[0]->children) legend_text += els[c].text + "|";
  CHECK(legend_text.find("forward F") != std::string::npos);
  CHECK(legend_text.find("backward B") != std::string::npos);
  CHECK(legend_text.find("bubble") != std::string::npos);

  TimelineSummary s = summarize(t);
  std::string heading = all_text(els, "chart-title") + all_text(els, "chart-subtitle");
  CHECK(heading.find("gpipe") != std::string::npos);
  CHECK(heading.find(fmt::format("bubble {:.1f}%", 100 * s.bubble_fraction)) != std::string::npos);
  CHECK(heading.find(fmt::format("step {:.2f} ms", t.step_time_ms)) != std::string::npos);

  // Bubbles: the pipeline fill on rank 3 is idle at the start.
  auto bubbles = find_all(els, "rect", "bubble");
  CHECK(!bubbles.empty());
  bool rank3_start = false;
  for (auto* b : bubbles) rank3_start |= b->attr("data-rank") == "3" && std::stod(b->attr("data-start")) == 0;
  CHECK(rank3_start);
}

TEST_CASE("Gantt chart at 32 ranks x 128 micro-batches stays valid and drops labels that do not fit") {
  test::TestTimelineOptions o;
  o.ranks = 32;
  o.microbatches = 128;
  Timeline t = test::make_test_timeline(o);
  std::string svg = render_gantt_svg(t);
  auto els = test::parse_xml(svg);
  CHECK(find_all(els, "g", "rank-row").size() == 32);
  auto boxes = find_all(els, "rect", "ev-compute");
  CHECK(boxes.size() == static_cast<std::size_t>(count_compute(t)));
  auto labels = find_all(els, "text", "label");
  CHECK(labels.size() < boxes.size() / 2);
  // Row height shrank: a compute box is lower than at 4 ranks.
  CHECK(std::stod(boxes[0]->attr("height")) < 34);
  CHECK(std::stod(boxes[0]->attr("height")) >= 9);
}

TEST_CASE("Gantt chart with virtual stages - chunk labels and lanes per chunk") {
  test::TestTimelineOptions o;
  o.virtual_stages = 2;
  o.schedule = "interleaved";
  Timeline t = test::make_test_timeline(o);
  auto els = test::parse_xml(render_gantt_svg(t));
  std::string labels = all_text(els, "label");
  CHECK(labels.find("0.c0") != std::string::npos);
  CHECK(labels.find("1.c1") != std::string::npos);

  GanttOptions g;
  g.lanes = true;
  auto lane_els = test::parse_xml(render_gantt_svg(t, g));
  std::set<std::string> ys_rank0;
  for (auto* b : find_all(lane_els, "rect", "ev-compute"))
    if (b->attr("data-rank") == "0" && b->has_class("ev-F")) ys_rank0.insert(b->attr("y"));
  CHECK(ys_rank0.size() == 2);  // chunk 0 and chunk 1 on separate lanes
}

TEST_CASE("Gantt chart escapes user strings and handles an empty timeline") {
  Timeline t = test::make_test_timeline({});
  GanttOptions g;
  g.title = "a <b> & \"c\"";
  auto els = test::parse_xml(render_gantt_svg(t, g));
  CHECK(all_text(els, "chart-title").find("a <b> & \"c\"") != std::string::npos);

  Timeline empty;
  empty.num_ranks = 2;
  auto e2 = test::parse_xml(render_gantt_svg(empty));
  CHECK(find_all(e2, "g", "rank-row").size() == 2);
  CHECK(find_all(e2, "rect", "ev").empty());
}

TEST_SUITE_END();
