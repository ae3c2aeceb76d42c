#include "viz/viz_outputs.h"

#include "core/formats.h"
#include "viz/chrome_trace.h"
#include "viz/comparison_chart.h"
#include "viz/gantt_chart.h"
#include "viz/html_report.h"
#include "viz/memory_chart.h"

namespace pipekit {

std::vector<std::string> write_viz_outputs(const VizOutputs& out, const Timeline& t, const Plan* plan,
                                           const Timeline* compare) {
  std::vector<std::string> done;
  if (!out.svg.empty()) {
    if (compare) {
      ComparisonOptions c;
      c.lanes = out.lanes;
      if (!out.title.empty()) c.label_a = out.title;
      write_text_file(out.svg, render_comparison_svg(t, *compare, c));
      done.push_back("comparison svg: " + out.svg);
    } else {
      GanttOptions g;
      g.title = out.title;
      g.lanes = out.lanes;
      write_text_file(out.svg, render_gantt_svg(t, g));
      done.push_back("gantt svg: " + out.svg);
    }
  }
  if (!out.memory_svg.empty()) {
    MemoryChartOptions m;
    write_text_file(out.memory_svg, render_memory_svg(t, m));
    done.push_back("memory svg: " + out.memory_svg);
  }
  if (!out.html.empty()) {
    HtmlReportOptions h;
    h.title = out.title;
    h.lanes = out.lanes;
    write_text_file(out.html, render_html_report(t, h, plan, compare));
    done.push_back("html report: " + out.html);
  }
  if (!out.trace.empty()) {
    write_text_file(out.trace, render_chrome_trace(t));
    done.push_back("perfetto trace: " + out.trace);
  }
  return done;
}

}  // namespace pipekit
