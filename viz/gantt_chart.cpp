#include "viz/gantt_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/units.h"
#include "viz/action_style.h"
#include "viz/chart_scale.h"
#include "viz/timeline_summary.h"

namespace pipekit {

void open_svg(SvgWriter& w, double width, double height, bool standalone, const std::string& label) {
  if (standalone) w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  SvgAttrs a;
  if (standalone) a.emplace_back("xmlns", "http://www.w3.org/2000/svg");
  a.emplace_back("width", width);
  a.emplace_back("height", height);
  a.emplace_back("viewBox", fmt::format("0 0 {} {}", svg_num(width), svg_num(height)));
  a.emplace_back("font-family", "Helvetica, Arial, sans-serif");
  a.emplace_back("role", "img");
  a.emplace_back("aria-label", label);
  w.open("svg", a);
  w.text_element("title", {}, label);
  w.leaf("rect", {{"width", width}, {"height", height}, {"fill", "#ffffff"}});
}

namespace {

// Per rank: the stages seen on it in order, so chunk = index of the stage.
std::vector<std::vector<int>> stages_per_rank(const Timeline& t) {
  std::vector<std::set<int>> s(std::max(t.num_ranks, 0));
  for (const auto& e : t.events)
    if (e.rank >= 0 && e.rank < t.num_ranks && !is_step_level(e.action.type) && e.action.stage >= 0)
      s[e.rank].insert(e.action.stage);
  for (const auto& e : t.events)  // step-level actions still name a stage
    if (e.rank >= 0 && e.rank < t.num_ranks && s[e.rank].empty()) s[e.rank].insert(e.action.stage);
  std::vector<std::vector<int>> out;
  for (auto& x : s) out.emplace_back(x.begin(), x.end());
  return out;
}

int chunk_of(const std::vector<int>& stages, int stage) {
  auto it = std::find(stages.begin(), stages.end(), stage);
  return it == stages.end() ? 0 : static_cast<int>(it - stages.begin());
}

std::string event_label_long(const TimelineEvent& e, const Timeline& t, int chunk) {
  ActionType ty = e.action.type;
  if (ty == ActionType::STEP) return "step";
  if (ty == ActionType::REDUCE_GRAD) return "all-reduce";
  if (!is_compute(ty)) return "";
  std::string prefix = ty == ActionType::F ? "" : std::string(to_string(ty));
  if (t.virtual_stages > 1) return fmt::format("{}{}.c{}", prefix, e.action.microbatch, chunk);
  return fmt::format("{}{}", prefix, e.action.microbatch);
}

std::string event_label_short(const TimelineEvent& e) {
  ActionType ty = e.action.type;
  if (ty == ActionType::STEP) return "S";
  if (ty == ActionType::REDUCE_GRAD) return "AR";
  if (!is_compute(ty)) return "";
  return std::to_string(e.action.microbatch);
}

std::string tooltip(const TimelineEvent& e) {
  std::string s = fmt::format("{} ({}) rank {} {}: {:.3f} - {:.3f} ms ({:.3f} ms)", to_string(e.action),
                              action_style(e.action.type).legend, e.rank, to_string(e.stream), e.start_ms,
                              e.end_ms, e.end_ms - e.start_ms);
  if (e.peer >= 0) s += fmt::format(", peer rank {}", e.peer);
  if (e.bytes > 0) s += fmt::format(", {}", format_bytes(static_cast<double>(e.bytes)));
  if (e.weight_version >= 0) s += fmt::format(", weights v{}", e.weight_version);
  return s;
}

}  // namespace

double draw_gantt(SvgWriter& w, const Timeline& t, const GanttOptions& o) {
  TimelineSummary sum = summarize(t);
  const int ranks = std::max(t.num_ranks, 0);
  const double domain = o.time_domain_ms > 0 ? o.time_domain_ms : std::max(sum.span_ms, 1e-9);
  const auto stages = stages_per_rank(t);

  bool has_send = false, has_recv = false;
  std::set<ActionType> kinds;
  for (const auto& e : t.events) {
    has_send |= e.stream == Stream::send;
    has_recv |= e.stream == Stream::recv;
    kinds.insert(e.action.type);
  }
  int compute_lanes = 1;
  if (o.lanes)
    for (const auto& s : stages) compute_lanes = std::max<int>(compute_lanes, static_cast<int>(s.size()));
  const int lanes_total = std::max(1, ranks * compute_lanes);
  const double lane_h = std::clamp(560.0 / lanes_total, 9.0, 34.0);
  const double comm_h = std::max(3.0, std::round(lane_h * 0.28));
  const double row_gap = lane_h >= 20 ? 8 : 3;
  const double row_h = lane_h * compute_lanes + (has_send ? comm_h + 1 : 0) + (has_recv ? comm_h + 1 : 0);
  const double left = 74, right = 24;
  const double plot_w = std::max(100.0, o.width - left - right);
  const double head_h = 62;
  const double rows_h = ranks * (row_h + row_gap);
  const double axis_y = head_h - 8;
  LinearScale sx{0, domain, left, left + plot_w};
  const double font = std::min(11.0, std::floor(lane_h * 0.62));
  const std::string hatch = o.id_prefix + "-bubble";

  w.open("defs");
  w.open("pattern", {{"id", hatch},
                     {"patternUnits", "userSpaceOnUse"},
                     {"width", 6},
                     {"height", 6},
                     {"patternTransform", "rotate(45)"}});
  w.leaf("rect", {{"width", 6}, {"height", 6}, {"fill", kBubbleFill}});
  w.leaf("line",
         {{"x1", 0}, {"y1", 0}, {"x2", 0}, {"y2", 6}, {"stroke", kBubbleStroke}, {"stroke-width", 1.5}});
  w.close();
  w.close();

  // Heading: what ran and how well.
  std::string title = !o.title.empty()
                          ? o.title
                          : fmt::format("{} ({})", t.schedule.empty() ? "timeline" : t.schedule, t.source);
  std::string stats = fmt::format(
      "schedule {} \u00b7 p={} ranks \u00b7 m={} micro-batches \u00b7 v={} \u00b7 step {:.2f} ms \u00b7 "
      "bubble {:.1f}%",
      t.schedule.empty() ? "?" : t.schedule, t.num_ranks, t.num_microbatches, t.virtual_stages,
      sum.step_time_ms, 100.0 * sum.bubble_fraction);
  if (sum.time_per_minibatch_ms &&
      std::abs(*sum.time_per_minibatch_ms - sum.step_time_ms) > 1e-6 * sum.step_time_ms)
    stats += fmt::format(" \u00b7 {:.2f} ms per minibatch", *sum.time_per_minibatch_ms);
  w.text_element("text",
                 {{"class", "chart-title"},
                  {"x", left},
                  {"y", 18},
                  {"font-size", 15},
                  {"font-weight", "bold"},
                  {"fill", "#222"}},
                 title);
  w.text_element("text",
                 {{"class", "chart-subtitle"}, {"x", left}, {"y", 34}, {"font-size", 11.5}, {"fill", "#444"}},
                 stats);

  // Time axis with grid lines through all rows.
  double step = nice_step(domain, std::max(2, static_cast<int>(plot_w / 90)));
  w.open("g", {{"class", "axis"}, {"font-size", 10}, {"fill", "#555"}});
  for (double v : nice_ticks(domain, std::max(2, static_cast<int>(plot_w / 90)))) {
    double x = sx(v);
    w.leaf("line", {{"x1", x},
                    {"y1", axis_y},
                    {"x2", x},
                    {"y2", head_h + rows_h},
                    {"stroke", "#e3e3e3"},
                    {"stroke-width", 1}});
    w.text_element("text", {{"x", x}, {"y", axis_y - 3}, {"text-anchor", "middle"}}, tick_label(v, step));
  }
  w.text_element(
      "text", {{"x", left - 14}, {"y", axis_y - 3}, {"text-anchor", "end"}, {"font-style", "italic"}}, "ms");
  w.leaf("line", {{"x1", left}, {"y1", axis_y}, {"x2", left + plot_w}, {"y2", axis_y}, {"stroke", "#999"}});
  w.close();

  // Events grouped by rank, in input order.
  std::vector<std::vector<const TimelineEvent*>> by_rank(ranks);
  for (const auto& e : t.events)
    if (e.rank >= 0 && e.rank < ranks) by_rank[e.rank].push_back(&e);

  for (int r = 0; r < ranks; ++r) {
    double y0 = head_h + r * (row_h + row_gap);
    w.open("g", {{"class", "rank-row"}, {"data-rank", r}});
    const double compute_h = lane_h * compute_lanes;
    const bool chunk_labels = o.lanes && compute_lanes > 1;
    w.text_element("text",
                   {{"x", left - (chunk_labels ? 22 : 8)},
                    {"y", y0 + compute_h / 2 + font * 0.35},
                    {"text-anchor", "end"},
                    {"font-size", std::max(9.0, std::min(12.0, font + 1))},
                    {"fill", "#222"}},
                   fmt::format("rank {}", r));
    w.leaf("rect", {{"x", left}, {"y", y0}, {"width", plot_w}, {"height", compute_h}, {"fill", "#f5f5f5"}});
    for (const auto& g : sum.ranks[r].bubbles) {
      double x0 = sx(g.start), x1 = sx(std::min(g.end, domain));
      if (x1 <= x0) continue;
      w.open("rect", {{"class", "bubble"},
                      {"x", x0},
                      {"y", y0},
                      {"width", x1 - x0},
                      {"height", compute_h},
                      {"fill", "url(#" + hatch + ")"},
                      {"data-rank", r},
                      {"data-action", "bubble"},
                      {"data-start", g.start},
                      {"data-end", g.end}});
      w.text_element("title", {},
                     fmt::format("bubble: rank {} idle {:.3f} - {:.3f} ms ({:.3f} ms)", r, g.start, g.end,
                                 g.end - g.start));
      w.close();
    }
    if (chunk_labels)
      for (int c = 0; c < compute_lanes; ++c)
        w.text_element("text",
                       {{"x", left - 4},
                        {"y", y0 + c * lane_h + lane_h / 2 + 3},
                        {"font-size", 9},
                        {"text-anchor", "end"},
                        {"fill", "#777"}},
                       fmt::format("c{}", c));
    double send_y = y0 + compute_h + 1;
    double recv_y = send_y + (has_send ? comm_h + 1 : 0);
    if (comm_h >= 5) {  // name the thin sub-lanes where there is room
      double cf = std::min(8.0, comm_h + 2);
      if (has_send)
        w.text_element("text",
                       {{"x", left - 4},
                        {"y", send_y + comm_h - 0.5},
                        {"font-size", cf},
                        {"text-anchor", "end"},
                        {"fill", "#999"}},
                       "send");
      if (has_recv)
        w.text_element("text",
                       {{"x", left - 4},
                        {"y", recv_y + comm_h - 0.5},
                        {"font-size", cf},
                        {"text-anchor", "end"},
                        {"fill", "#999"}},
                       "recv");
    }
    for (const TimelineEvent* e : by_rank[r]) {
      int chunk = chunk_of(stages[r], e->action.stage);
      double x0 = sx(e->start_ms), x1 = sx(e->end_ms);
      double bw = std::max(x1 - x0, 0.6);
      double y, h;
      if (e->stream == Stream::compute) {
        y = y0 + (o.lanes ? std::min(chunk, compute_lanes - 1) * lane_h : 0);
        h = lane_h;
      } else {
        y = e->stream == Stream::send ? send_y : recv_y;
        h = comm_h;
      }
      ActionType ty = e->action.type;
      std::string fill = t.virtual_stages > 1 && !o.lanes ? chunk_fill(ty, chunk) : action_style(ty).fill;
      SvgAttrs a{{"class", fmt::format("ev ev-{} ev-{}", to_string(e->stream), to_string(ty))},
                 {"x", x0},
                 {"y", y},
                 {"width", bw},
                 {"height", h},
                 {"fill", fill}};
      if (bw > 3 && e->stream == Stream::compute) {
        a.emplace_back("stroke", "#ffffff");
        a.emplace_back("stroke-width", 0.6);
      }
      a.emplace_back("data-rank", r);
      a.emplace_back("data-stream", std::string(to_string(e->stream)));
      a.emplace_back("data-action", to_string(e->action));
      a.emplace_back("data-stage", e->action.stage);
      a.emplace_back("data-mb", e->action.microbatch);
      a.emplace_back("data-start", fmt::format("{:.4f}", e->start_ms));
      a.emplace_back("data-end", fmt::format("{:.4f}", e->end_ms));
      if (e->peer >= 0) a.emplace_back("data-peer", e->peer);
      w.open("rect", a);
      w.text_element("title", {}, tooltip(*e));
      w.close();
      if (e->stream != Stream::compute || lane_h < 9) continue;
      std::string label = event_label_long(*e, t, chunk);
      auto fits = [&](const std::string& s) { return !s.empty() && s.size() * font * 0.62 + 3 <= bw; };
      if (!fits(label)) label = event_label_short(*e);
      if (!fits(label)) continue;
      w.text_element("text",
                     {{"class", "label"},
                      {"x", x0 + bw / 2},
                      {"y", y + h / 2 + font * 0.36},
                      {"text-anchor", "middle"},
                      {"font-size", font},
                      {"fill", action_style(ty).text},
                      {"pointer-events", "none"}},
                     label);
    }
    w.close();
  }

  // On a shared scale longer than this run, mark where its step ends.
  if (sum.span_ms < domain * 0.995 && ranks > 0) {
    double x = sx(sum.span_ms);
    w.leaf("line", {{"class", "step-end"},
                    {"x1", x},
                    {"y1", axis_y},
                    {"x2", x},
                    {"y2", head_h + rows_h - row_gap},
                    {"stroke", "#333"},
                    {"stroke-width", 1.2},
                    {"stroke-dasharray", "4 3"}});
    w.text_element("text",
                   {{"x", x + 4}, {"y", head_h + rows_h - row_gap - 3}, {"font-size", 10}, {"fill", "#333"}},
                   fmt::format("step ends {:.2f} ms", sum.span_ms));
  }

  // Legend: the kinds present, then bubble.
  double ly = head_h + rows_h + 14;
  double lx = left;
  if (o.legend) {
    w.open("g", {{"class", "legend"}, {"font-size", 11}, {"fill", "#333"}});
    auto item = [&](const std::string& fill, const std::string& name) {
      w.leaf("rect", {{"x", lx},
                      {"y", ly - 9},
                      {"width", 14},
                      {"height", 11},
                      {"fill", fill},
                      {"stroke", "#888"},
                      {"stroke-width", 0.5}});
      w.text_element("text", {{"x", lx + 18}, {"y", ly}}, name);
      lx += 18 + name.size() * 6.2 + 16;
      if (lx > o.width - 140) {
        lx = left;
        ly += 16;
      }
    };
    for (ActionType k : kinds) item(action_style(k).fill, action_style(k).legend);
    item("url(#" + hatch + ")", "bubble (idle)");
    if (t.virtual_stages > 1 && !o.lanes)
      w.text_element("text", {{"x", lx}, {"y", ly}, {"fill", "#666"}}, "darker = odd chunk; label mb.cChunk");
    w.close();
  }
  return ly + 10;
}

std::string render_gantt_svg(const Timeline& t, const GanttOptions& o) {
  SvgWriter body;
  double h = draw_gantt(body, t, o);
  SvgWriter w;
  TimelineSummary sum = summarize(t);
  open_svg(w, o.width, h, o.standalone,
           fmt::format("Gantt chart: {} schedule, {} ranks, {} micro-batches, step {:.2f} ms, bubble {:.1f}%",
                       t.schedule, t.num_ranks, t.num_microbatches, sum.step_time_ms,
                       100.0 * sum.bubble_fraction));
  w.raw(body.str());
  w.close();
  return w.str();
}

}  // namespace pipekit
