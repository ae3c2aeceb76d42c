#include <doctest/doctest.h>

#include <fmt/format.h>

#include "tests/support/test_timelines.h"
#include "tests/support/xml_check.h"
#include "viz/html_report.h"
#include "viz/timeline_summary.h"

using namespace pipekit;

TEST_SUITE_BEGIN("viz");

namespace {
int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
// Every inline <svg>...</svg> of the page parses as XML.
int check_inline_svgs(const std::string& html) {
  int n = 0;
  for (std::size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) {
    std::size_t e = html.find("</svg>", p);
    REQUIRE(e != std::string::npos);
    CHECK_NOTHROW(test::parse_xml(html.substr(p, e + 6 - p)));
    ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("HTML report is self-contained and holds summary and ranks and charts") {
  test::TestTimelineOptions o;
  o.device_memory = 400'000'000;  // below the 545 MB peak: flagged
  Timeline t = test::make_test_timeline(o);
  std::string h = render_html_report(t);
  CHECK(h.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(h.find("http://") == std::string::npos);
  CHECK(h.find("https://") == std::string::npos);
  CHECK(h.find("<link") == std::string::npos);
  CHECK(h.find("<script src") == std::string::npos);
  CHECK(check_inline_svgs(h) == 2);
  TimelineSummary s = summarize(t);
  CHECK(h.find(fmt::format("{:.1f}%", 100 * s.bubble_fraction)) != std::string::npos);
  CHECK(h.find(fmt::format("{:.3f} ms", s.step_time_ms)) != std::string::npos);
  CHECK(h.find("samples/s") != std::string::npos);
  CHECK(count(h, "<tr data-rank=") == 4);
  CHECK(h.find("class=\"over\"") != std::string::npos);
  CHECK(h.find("id=\"pipekit-errors\"") != std::string::npos);
  CHECK(h.find("window.onerror") < h.find("<svg"));
  CHECK(h.find("pipekit-ready") != std::string::npos);
  CHECK(h.find("data-action=\"0F0\"") != std::string::npos);
  CHECK(h.find("id=\"comparison\"") == std::string::npos);
}

TEST_CASE("HTML report with a plan and a second timeline") {
  Timeline a = test::make_test_timeline({});
  test::TestTimelineOptions o;
  o.schedule = "1f1b";
  Timeline b = test::make_test_timeline(o);
  Plan p;
  p.model = "toy <model>";
  p.schedule.kind = "gpipe";
  p.schedule.microbatches = 8;
  for (int s = 0; s < 4; ++s) p.stages.push_back({{2 * s, 2 * s + 1}, 1, {s}});
  std::string h = render_html_report(a, {}, &p, &b);
  CHECK(check_inline_svgs(h) == 3);
  CHECK(h.find("id=\"comparison\"") != std::string::npos);
  CHECK(h.find("toy &lt;model&gt;") != std::string::npos);
  CHECK(count(h, "<tr data-stage=") == 4);
  CHECK(h.find("<td class=\"l\">2-3</td>") != std::string::npos);
  CHECK(h.find("<th>A</th><th>B</th>") != std::string::npos);
  CHECK(h.find("http://") == std::string::npos);
}

TEST_SUITE_END();
