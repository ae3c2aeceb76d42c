#include "viz/memory_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/units.h"
#include "viz/chart_scale.h"
#include "viz/gantt_chart.h"
#include "viz/timeline_summary.h"

namespace pipekit {
namespace {

struct Term {
  const char* key;   // class suffix
  const char* name;  // legend
  const char* fill;
  std::int64_t MemorySample::*field;
};

const std::array<Term, 6> kTerms = {{
    {"weights", "weights (all versions)", "#8da0cb", &MemorySample::weights},
    {"master", "fp32 master weights", "#b3b3d9", &MemorySample::master},
    {"gradients", "gradients", "#66c2a5", &MemorySample::gradients},
    {"optimizer", "optimizer state", "#a6d854", &MemorySample::optimizer},
    {"activations", "activations", "#fc8d62", &MemorySample::activations},
    {"buffers", "buffers", "#e5c494", &MemorySample::buffers},
}};

// Byte axis ticks in decimal units, as format_bytes prints them.
std::string byte_label(double v) {
  return v == 0 ? "0" : format_bytes(v);
}

// At most `buckets` samples: within each time bucket keep the sample with the
// largest total (so peaks survive), placed at its own time. Keeps files small
// when a long timeline has far more samples than the panel has pixels.
std::vector<MemorySample> thin_samples(const std::vector<MemorySample>& s, double domain, int buckets) {
  if (static_cast<int>(s.size()) <= buckets || domain <= 0) return s;
  std::vector<MemorySample> out;
  int current = -1;
  for (const auto& m : s) {
    int b = std::clamp(static_cast<int>(m.time_ms / domain * buckets), 0, buckets - 1);
    if (b != current) {
      out.push_back(m);
      current = b;
    } else if (m.total() > out.back().total()) {
      double t0 = out.back().time_ms;
      out.back() = m;
      out.back().time_ms = t0;
    }
  }
  return out;
}

}  // namespace

std::string render_memory_svg(const Timeline& t, const MemoryChartOptions& o) {
  TimelineSummary sum = summarize(t);
  const int ranks = std::max(t.num_ranks, 0);
  const double domain = o.time_domain_ms > 0 ? o.time_domain_ms : std::max(sum.span_ms, 1e-9);
  std::string title = !o.title.empty() ? o.title
                                       : fmt::format("Memory per rank: {} ({})",
                                                     t.schedule.empty() ? "timeline" : t.schedule, t.source);
  SvgWriter body;
  const double head_h = 44;
  if (t.memory.empty() || ranks == 0 || sum.peak_memory == 0) {
    body.text_element(
        "text", {{"x", 16}, {"y", 20}, {"font-size", 15}, {"font-weight", "bold"}, {"fill", "#222"}}, title);
    body.text_element(
        "text", {{"class", "no-memory"}, {"x", 16}, {"y", 44}, {"font-size", 12}, {"fill", "#666"}},
        t.memory.empty() ? "no memory samples in this timeline"
                         : "all memory samples are zero (no byte sizes were given to the simulator)");
    SvgWriter w;
    open_svg(w, o.width, 60, o.standalone, title);
    w.raw(body.str());
    w.close();
    return w.str();
  }

  std::vector<std::vector<MemorySample>> samples(ranks);
  for (const auto& m : t.memory)
    if (m.rank >= 0 && m.rank < ranks) samples[m.rank].push_back(m);
  for (auto& s : samples)
    std::stable_sort(s.begin(), s.end(),
                     [](const MemorySample& a, const MemorySample& b) { return a.time_ms < b.time_ms; });

  const int cols = o.columns > 0 ? o.columns : ranks <= 4 ? 1 : ranks <= 8 ? 2 : 4;
  const int rows = (ranks + cols - 1) / cols;
  const double panel_h = ranks <= 4 ? 130 : ranks <= 16 ? 110 : 90;
  const double gap_x = 20, gap_y = 34;
  const double left = 78, right = 16;
  const double panel_w = (o.width - left - right - (cols - 1) * (gap_x + left - 10)) / cols;
  double ymax = std::max<double>(sum.peak_memory, static_cast<double>(t.device_memory_bytes));
  if (ymax <= 0) ymax = 1;
  ymax *= 1.12;  // headroom for the peak label
  const double ystep = nice_step(ymax, 3);
  const std::vector<double> yticks = nice_ticks(ymax, 3);
  const double tstep = nice_step(domain, std::max(2, static_cast<int>(panel_w / 90)));

  body.text_element("text",
                    {{"class", "chart-title"},
                     {"x", 16},
                     {"y", 18},
                     {"font-size", 15},
                     {"font-weight", "bold"},
                     {"fill", "#222"}},
                    title);
  std::string sub = fmt::format("peak {} over all ranks", byte_label(static_cast<double>(sum.peak_memory)));
  if (t.device_memory_bytes > 0)
    sub += fmt::format(" \u00b7 device limit {} ({:.0f}% used)",
                       byte_label(static_cast<double>(t.device_memory_bytes)),
                       100.0 * sum.peak_memory / static_cast<double>(t.device_memory_bytes));
  body.text_element("text", {{"x", 16}, {"y", 34}, {"font-size", 11.5}, {"fill", "#444"}}, sub);

  for (int r = 0; r < ranks; ++r) {
    int cx = r % cols, cy = r / cols;
    double px = left + cx * (panel_w + gap_x + left - 10);
    double py = head_h + 12 + cy * (panel_h + gap_y);
    LinearScale sx{0, domain, px, px + panel_w};
    LinearScale sy{0, ymax, py + panel_h, py};
    body.open("g", {{"class", "mem-panel"}, {"data-rank", r}});
    body.leaf("rect", {{"x", px},
                       {"y", py},
                       {"width", panel_w},
                       {"height", panel_h},
                       {"fill", "#fafafa"},
                       {"stroke", "#ccc"}});
    body.text_element(
        "text", {{"x", px + 4}, {"y", py - 4}, {"font-size", 11}, {"font-weight", "bold"}, {"fill", "#333"}},
        fmt::format("rank {}", r));
    for (double v : yticks) {
      double y = sy(v);
      body.leaf("line", {{"x1", px}, {"y1", y}, {"x2", px + panel_w}, {"y2", y}, {"stroke", "#e6e6e6"}});
      body.text_element(
          "text", {{"x", px - 4}, {"y", y + 3}, {"font-size", 9}, {"text-anchor", "end"}, {"fill", "#666"}},
          byte_label(v));
    }
    (void)ystep;
    if (cy == rows - 1 || r + cols >= ranks)
      for (double v : nice_ticks(domain, std::max(2, static_cast<int>(panel_w / 90)))) {
        double x = sx(v);
        body.leaf("line",
                  {{"x1", x}, {"y1", py + panel_h}, {"x2", x}, {"y2", py + panel_h + 3}, {"stroke", "#999"}});
        body.text_element("text",
                          {{"x", x},
                           {"y", py + panel_h + 13},
                           {"font-size", 9},
                           {"text-anchor", "middle"},
                           {"fill", "#666"}},
                          tick_label(v, tstep) + (v == 0 ? " ms" : ""));
      }
    const auto s = thin_samples(samples[r], domain, std::max(16, static_cast<int>(panel_w / 2)));
    if (!s.empty()) {
      // Stacked step areas: for each term, top edge forward then bottom edge back.
      std::vector<std::int64_t> below(s.size(), 0);
      for (const Term& term : kTerms) {
        bool any = false;
        for (const auto& m : s) any |= (m.*term.field) > 0;
        if (!any) continue;
        std::string top, bottom;
        for (std::size_t i = 0; i < s.size(); ++i) {
          double x0 = sx(std::max(0.0, s[i].time_ms));
          double x1 = sx(i + 1 < s.size() ? s[i + 1].time_ms : domain);
          double yt = sy(static_cast<double>(below[i] + (s[i].*term.field)));
          double yb = sy(static_cast<double>(below[i]));
          top += fmt::format("{},{} {},{} ", svg_num(x0), svg_num(yt), svg_num(x1), svg_num(yt));
          bottom = fmt::format("{},{} {},{} ", svg_num(x1), svg_num(yb), svg_num(x0), svg_num(yb)) + bottom;
        }
        for (std::size_t i = 0; i < s.size(); ++i) below[i] += s[i].*term.field;
        body.open("polygon", {{"class", std::string("mem-term mem-") + term.key},
                              {"points", top + bottom},
                              {"fill", term.fill},
                              {"stroke", "none"}});
        body.text_element("title", {}, fmt::format("rank {} {}", r, term.name));
        body.close();
      }
      const RankSummary& rs = sum.ranks[r];
      double x = sx(rs.peak_time_ms), y = sy(static_cast<double>(rs.peak_memory));
      body.open("g",
                {{"class", "mem-peak"}, {"data-rank", r}, {"data-peak", std::to_string(rs.peak_memory)}});
      body.leaf("circle", {{"cx", x}, {"cy", y}, {"r", 3.5}, {"fill", "#222"}});
      std::string pl = fmt::format("peak {} at {:.2f} ms", byte_label(static_cast<double>(rs.peak_memory)),
                                   rs.peak_time_ms);
      bool right_side = x < px + panel_w * 0.6;
      body.text_element("text",
                        {{"x", right_side ? x + 6 : x - 6},
                         {"y", std::max(py + 10, y - 5)},
                         {"font-size", 10},
                         {"text-anchor", right_side ? "start" : "end"},
                         {"fill", "#222"}},
                        pl);
      body.close();
    }
    if (t.device_memory_bytes > 0) {
      double y = sy(static_cast<double>(t.device_memory_bytes));
      body.leaf("line", {{"class", "mem-limit"},
                         {"x1", px},
                         {"y1", y},
                         {"x2", px + panel_w},
                         {"y2", y},
                         {"stroke", "#d62728"},
                         {"stroke-width", 1.5},
                         {"stroke-dasharray", "6 3"}});
      body.text_element("text",
                        {{"x", px + panel_w - 4},
                         {"y", y - 3},
                         {"font-size", 9},
                         {"text-anchor", "end"},
                         {"fill", "#d62728"}},
                        "device limit " + byte_label(static_cast<double>(t.device_memory_bytes)));
    }
    body.close();
  }
  double ly = head_h + 12 + rows * (panel_h + gap_y) + 4;
  double lx = left;
  body.open("g", {{"class", "legend"}, {"font-size", 11}, {"fill", "#333"}});
  for (const Term& term : kTerms) {
    body.leaf("rect", {{"x", lx}, {"y", ly - 9}, {"width", 14}, {"height", 11}, {"fill", term.fill}});
    body.text_element("text", {{"x", lx + 18}, {"y", ly}}, term.name);
    lx += 18 + std::string(term.name).size() * 6.2 + 18;
  }
  body.close();
  SvgWriter w;
  open_svg(w, o.width, ly + 12, o.standalone, title);
  w.raw(body.str());
  w.close();
  return w.str();
}

}  // namespace pipekit
