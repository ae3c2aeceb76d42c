#include "viz/comparison_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "core/timeline_meta.h"
#include "viz/chart_scale.h"
#include "viz/gantt_chart.h"
#include "viz/timeline_summary.h"

namespace pipekit {

std::string render_comparison_svg(const Timeline& a, const Timeline& b, const ComparisonOptions& o) {
  TimelineSummary sa = summarize(a), sb = summarize(b);
  double domain = std::max({sa.span_ms, sb.span_ms, 1e-9});
  auto label = [](const std::string& given, const Timeline& t, const char* which) {
    if (!given.empty()) return given;
    return fmt::format("{}: {} {}", which, t.source, t.schedule.empty() ? "timeline" : t.schedule);
  };
  SvgWriter body;
  std::string heading = fmt::format(
      "Comparison on one time scale: step {:.2f} ms vs {:.2f} ms ({:+.1f}%)", sa.step_time_ms,
      sb.step_time_ms, sa.step_time_ms > 0 ? 100.0 * (sb.step_time_ms / sa.step_time_ms - 1) : 0.0);
  body.text_element("text",
                    {{"class", "comparison-title"},
                     {"x", 16},
                     {"y", 20},
                     {"font-size", 16},
                     {"font-weight", "bold"},
                     {"fill", "#222"}},
                    heading);
  double y = 30;
  const Timeline* ts[2] = {&a, &b};
  const std::string labels[2] = {label(o.label_a, a, "A"), label(o.label_b, b, "B")};
  for (int i = 0; i < 2; ++i) {
    GanttOptions g;
    g.title = labels[i];
    g.lanes = o.lanes;
    g.width = o.width;
    g.time_domain_ms = domain;
    g.id_prefix = o.id_prefix + (i == 0 ? "-a" : "-b");
    g.standalone = false;
    body.open("g", {{"class", i == 0 ? "comparison-a" : "comparison-b"},
                    {"transform", fmt::format("translate(0,{})", svg_num(y))}});
    double h = draw_gantt(body, *ts[i], g);
    body.close();
    y += h + 16;
    if (i == 0)
      body.leaf("line", {{"x1", 16},
                         {"y1", y - 8},
                         {"x2", o.width - 16},
                         {"y2", y - 8},
                         {"stroke", "#bbb"},
                         {"stroke-dasharray", "4 3"}});
  }
  // A predicted spread (p10..p90 of the step) as a shaded band over both
  // charts, on their time scale: a measured step ending inside it was foreseen.
  for (const Timeline* t : ts)
    if (auto spread = get_meta(*t, RunMeta::step_spread_ms)) {
      double p10 = 0, p50 = 0, p90 = 0;
      if (std::sscanf(spread->c_str(), "%lf %lf %lf", &p10, &p50, &p90) != 3 || !(p90 >= p10)) continue;
      const double left = 74, plot_w = std::max(100.0, o.width - left - 24);
      LinearScale sx{0, domain, left, left + plot_w};
      const double x0 = std::min(sx(p10), left + plot_w), x1 = std::min(sx(p90), left + plot_w);
      body.leaf("rect", {{"class", "predicted-band"},
                         {"x", x0},
                         {"y", 26},
                         {"width", std::max(1.0, x1 - x0)},
                         {"height", y - 26},
                         {"fill", "#1f77b4"},
                         {"fill-opacity", 0.12}});
      body.text_element("text", {{"x", x1 + 4}, {"y", y - 4}, {"font-size", 11}, {"fill", "#1f77b4"}},
                        fmt::format("predicted p10-p90 {:.1f}-{:.1f} ms", p10, p90));
      break;
    }
  SvgWriter w;
  open_svg(w, o.width, y, o.standalone, heading);
  w.raw(body.str());
  w.close();
  return w.str();
}

}  // namespace pipekit
