// One self-contained HTML page about a timeline: nothing is fetched from the
// network (inline SVG, CSS and JS only), so it opens offline and can be mailed.
//
// Sections: summary (step time, throughput when meta has samples_per_step or
// global_batch_size, bubble %, peak memory vs the device limit), a per-rank
// table, the Gantt and memory charts, the comparison chart and its numbers when
// a second timeline is given, the plan (stages, layers, replicas, schedule)
// when one is given, and the timeline's meta. Hovering any box shows its
// details (a JS tooltip reading the data-* attributes). The script sets
// body[data-ready="1"] and adds #pipekit-ready once it ran; any script error
// is written into #pipekit-errors, which is how the browser test checks it.
#pragma once

#include <string>

#include "core/plan.h"
#include "core/timeline.h"

namespace pipekit {

struct HtmlReportOptions {
  std::string title;   // default "pipekit: <schedule> (<source>)"
  bool lanes = false;  // Gantt lanes per virtual stage
};

std::string render_html_report(const Timeline& t, const HtmlReportOptions& o = {}, const Plan* plan = nullptr,
                               const Timeline* compare = nullptr);

}  // namespace pipekit
