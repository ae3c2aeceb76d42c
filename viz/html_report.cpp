#include "viz/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "core/timeline_meta.h"
#include "core/units.h"
#include "viz/comparison_chart.h"
#include "viz/gantt_chart.h"
#include "viz/memory_chart.h"
#include "viz/svg_writer.h"
#include "viz/timeline_summary.h"

namespace pipekit {
namespace {

const char* kCss = R"(
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ddd;padding:3px 9px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}
.over{color:#b00020;font-weight:bold}
.chart{overflow-x:auto;border:1px solid #eee;padding:4px;margin:8px 0}
#pk-tip{position:fixed;display:none;pointer-events:none;background:rgba(30,30,30,.92);color:#fff;font-size:12px;
 padding:6px 8px;border-radius:4px;white-space:pre;z-index:10;max-width:520px}
#pipekit-errors{color:#b00020;background:#fff0f0;border:1px solid #b00020;padding:6px}
.note{color:#666;font-size:12px}
)";

const char* kScript = R"(
(function(){
  var tip = document.getElementById('pk-tip');
  var names = {'data-action':'action','data-rank':'rank','data-stream':'stream','data-stage':'stage',
               'data-mb':'micro-batch','data-start':'start ms','data-end':'end ms','data-peer':'peer rank'};
  function describe(el){
    var lines = [];
    for (var k in names){
      var v = el.getAttribute(k);
      if (v !== null && v !== '' && v !== '-1') lines.push(names[k] + ': ' + v);
    }
    var s = parseFloat(el.getAttribute('data-start')), e = parseFloat(el.getAttribute('data-end'));
    if (!isNaN(s) && !isNaN(e)) lines.push('duration ms: ' + (e - s).toFixed(3));
    return lines.join('\n');
  }
  function hit(t){
    while (t && t.getAttribute){ if (t.getAttribute('data-action') !== null) return t; t = t.parentNode; }
    return null;
  }
  document.addEventListener('mousemove', function(ev){
    var el = hit(ev.target);
    if (!el){ tip.style.display = 'none'; return; }
    tip.textContent = describe(el);
    tip.style.display = 'block';
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 300) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  });
  var boxes = document.querySelectorAll('[data-action]').length;
  document.body.setAttribute('data-ready', '1');
  var done = document.createElement('div');
  done.id = 'pipekit-ready';
  done.className = 'note';
  done.textContent = 'Interactive: hover any box for details (' + boxes + ' boxes).';
  document.body.appendChild(done);
})();
)";

std::string esc(const std::string& s) {
  return xml_escape(s);
}

std::string pct(double f) {
  return fmt::format("{:.1f}%", 100.0 * f);
}

std::string bytes(std::int64_t b) {
  return b > 0 ? format_bytes(static_cast<double>(b)) : "-";
}

// "0-3, 7" from a sorted-or-not list of layer indices.
std::string ranges(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += j == i ? std::to_string(v[i]) : fmt::format("{}-{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

void summary_rows(std::string& h, const std::vector<const Timeline*>& ts) {
  std::vector<TimelineSummary> ss;
  for (auto* t : ts) ss.push_back(summarize(*t));
  auto row = [&](const char* name, auto cell) {
    h += fmt::format("<tr><th class=\"l\">{}</th>", name);
    for (std::size_t i = 0; i < ts.size(); ++i) h += "<td>" + cell(*ts[i], ss[i]) + "</td>";
    h += "</tr>\n";
  };
  using T = const Timeline&;
  using S = const TimelineSummary&;
  row("source", [](T t, S) { return esc(t.source); });
  row("schedule", [](T t, S) { return esc(t.schedule); });
  row("ranks / stages / micro-batches / v", [](T t, S) {
    return fmt::format("{} / {} / {} / {}", t.num_ranks, t.num_stages, t.num_microbatches, t.virtual_stages);
  });
  row("step time", [](T t, S s) {
    std::string v = fmt::format("{:.3f} ms", s.step_time_ms);
    double p10 = 0, p50 = 0, p90 = 0;
    if (auto spread = get_meta(t, RunMeta::step_spread_ms);
        spread && std::sscanf(spread->c_str(), "%lf %lf %lf", &p10, &p50, &p90) == 3)
      v += fmt::format(" (p10-p90 {:.3f}-{:.3f} ms, p50 {:.3f})", p10, p90, p50);
    return v;
  });
  row("time per minibatch", [](T, S s) {
    return s.time_per_minibatch_ms ? fmt::format("{:.3f} ms", *s.time_per_minibatch_ms) : std::string("-");
  });
  row("throughput", [](T, S s) {
    return s.throughput_samples_per_s ? fmt::format("{:.1f} samples/s ({} per step)",
                                                    *s.throughput_samples_per_s, *s.samples_per_step)
                                      : std::string("- (no samples_per_step in meta)");
  });
  row("compute bubble", [](T, S s) { return pct(s.bubble_fraction); });
  row("peak memory (max rank)", [](T t, S s) {
    std::string v = bytes(s.peak_memory);
    if (t.device_memory_bytes > 0) {
      bool over = s.peak_memory > t.device_memory_bytes;
      v = fmt::format("<span class=\"{}\">{} of {} ({:.0f}%)</span>", over ? "over" : "", v,
                      bytes(t.device_memory_bytes),
                      100.0 * s.peak_memory / static_cast<double>(t.device_memory_bytes));
    }
    return v;
  });
  row("events", [](T t, S) { return std::to_string(t.events.size()); });
}

void rank_table(std::string& h, const Timeline& t) {
  TimelineSummary s = summarize(t);
  h += "<table class=\"ranks\"><tr><th>rank</th><th>compute events</th><th>busy ms</th><th>idle "
       "ms</th><th>bubble</th>"
       "<th>peak memory</th><th>at ms</th><th>of device limit</th></tr>\n";
  for (const auto& r : s.ranks) {
    std::string lim = "-";
    if (t.device_memory_bytes > 0 && r.peak_memory > 0) {
      double f = r.peak_memory / static_cast<double>(t.device_memory_bytes);
      lim = fmt::format("<span class=\"{}\">{:.0f}%</span>", f > 1 ? "over" : "", 100 * f);
    }
    h += fmt::format(
        "<tr "
        "data-rank=\"{}\"><td>{}</td><td>{}</td><td>{:.3f}</td><td>{:.3f}</td><td>{}</td><td>{}</td><td>{}</"
        "td><td>{}</td></tr>\n",
        r.rank, r.rank, r.compute_events, r.busy_ms, r.idle_ms, pct(r.bubble_fraction), bytes(r.peak_memory),
        r.peak_memory > 0 ? fmt::format("{:.2f}", r.peak_time_ms) : "-", lim);
  }
  h += "</table>\n";
}

void plan_section(std::string& h, const Plan& p) {
  h += "<h2>Plan</h2>\n<table class=\"plan\">";
  h += fmt::format("<tr><th class=\"l\">model</th><td class=\"l\">{}</td></tr>", esc(p.model));
  h += fmt::format(
      "<tr><th class=\"l\">schedule</th><td class=\"l\">{}, {} micro-batches, v={}, recompute {}</td></tr>",
      esc(p.schedule.kind), p.schedule.microbatches, p.schedule.virtual_stages,
      esc(to_string(p.schedule.recompute)));
  if (p.microbatch_size > 0)
    h += fmt::format("<tr><th class=\"l\">micro-batch size</th><td class=\"l\">{}</td></tr>",
                     p.microbatch_size);
  h += fmt::format("<tr><th class=\"l\">cost model</th><td class=\"l\">{}</td></tr>", esc(p.cost_model));
  for (const auto& [k, v] : p.predicted)
    h += fmt::format("<tr><th class=\"l\">predicted {}</th><td class=\"l\">{:.4g}</td></tr>", esc(k), v);
  h += "</table>\n<table class=\"stages\"><tr><th>stage</th><th class=\"l\">layers</th><th>layer "
       "count</th><th>replicas</th><th class=\"l\">ranks</th></tr>\n";
  for (std::size_t i = 0; i < p.stages.size(); ++i) {
    const auto& s = p.stages[i];
    std::string rk;
    for (int r : s.ranks) rk += (rk.empty() ? "" : ", ") + std::to_string(r);
    h += fmt::format(
        "<tr data-stage=\"{}\"><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td "
        "class=\"l\">{}</td></tr>\n",
        i, i, ranges(s.layers), s.layers.size(), s.replicas, rk);
  }
  h += "</table>\n";
}

}  // namespace

std::string render_html_report(const Timeline& t, const HtmlReportOptions& o, const Plan* plan,
                               const Timeline* compare) {
  std::string title = !o.title.empty() ? o.title
                                       : fmt::format("pipekit: {} ({})",
                                                     t.schedule.empty() ? "timeline" : t.schedule, t.source);
  TimelineSummary s = summarize(t);
  std::string h;
  h.reserve(1 << 20);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + esc(title) + "</title>\n<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  // Installed first so that errors in anything after it are reported in the page.
  h += "<script>window.onerror=function(m,s,l,c){var p=document.getElementById('pipekit-errors');"
       "var t='script error: '+m+' (line '+l+':'+c+')\\n';if(p){p.hidden=false;p.textContent+=t;}"
       "else{window.__pipekitErrors=(window.__pipekitErrors||'')+t;}};</script>\n";
  h += "<pre id=\"pipekit-errors\" hidden></pre>\n";
  h += "<div id=\"pk-tip\"></div>\n";
  h += "<h1>" + esc(title) + "</h1>\n";
  h += fmt::format(
      "<p class=\"sub\">{} schedule on {} ranks, {} micro-batches: step {:.3f} ms, compute bubble {}.</p>\n",
      esc(t.schedule), t.num_ranks, t.num_microbatches, s.step_time_ms, pct(s.bubble_fraction));

  h += "<h2>Summary</h2>\n<table class=\"summary\">";
  if (compare) {
    h += "<tr><th class=\"l\"></th><th>A</th><th>B</th></tr>\n";
    summary_rows(h, {&t, compare});
  } else {
    summary_rows(h, {&t});
  }
  h += "</table>\n<p class=\"note\">Compute bubble: time a rank's compute stream is idle, over ranks &#215; "
       "step time. "
       "Peak memory: highest sampled total of weights, gradients, optimizer state, activations and "
       "buffers.</p>\n";
  h += "<h2>Per rank</h2>\n";
  rank_table(h, t);

  GanttOptions g;
  g.lanes = o.lanes;
  g.standalone = false;
  g.id_prefix = "gantt";
  h += "<h2>Timeline</h2>\n<div class=\"chart\" id=\"gantt\">" + render_gantt_svg(t, g) + "</div>\n";
  MemoryChartOptions m;
  m.standalone = false;
  h += "<h2>Memory</h2>\n<div class=\"chart\" id=\"memory\">" + render_memory_svg(t, m) + "</div>\n";
  if (compare) {
    ComparisonOptions c;
    c.lanes = o.lanes;
    c.standalone = false;
    h += "<h2>Comparison</h2>\n<div class=\"chart\" id=\"comparison\">" +
         render_comparison_svg(t, *compare, c) + "</div>\n";
    h += "<h3>Per rank (B)</h3>\n";
    rank_table(h, *compare);
  }
  if (plan) plan_section(h, *plan);
  if (!t.meta.empty()) {
    h += "<h2>Meta</h2>\n<table class=\"meta\">";
    for (const auto& [k, v] : t.meta)
      h += "<tr><th class=\"l\">" + esc(k) + "</th><td class=\"l\">" + esc(v) + "</td></tr>";
    h += "</table>\n";
  }
  h += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return h;
}

}  // namespace pipekit
