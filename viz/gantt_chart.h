// The Gantt chart of a timeline as SVG: one row per rank (or, with `lanes`, one
// lane per virtual stage of the rank), time on x with a labelled millisecond
// scale, every event a box coloured by kind, idle compute time hatched as
// bubble, a legend, and a heading with schedule, p, m, v, step time and bubble
// percentage (see timeline_summary.h for the definitions).
//
// Compute events sit on the main lane of their rank; sends and receives on thin
// sub-lanes below it. Every box carries a <title> tooltip and data-* attributes
// (rank, stream, action, stage, mb, start, end) that the HTML report reads.
// Labels (micro-batch, and stage when v > 1) are drawn only where they fit, and
// row height shrinks with the number of rows, so 32 ranks x 128 micro-batches
// still gives a readable picture.
#pragma once

#include <string>

#include "core/timeline.h"
#include "viz/svg_writer.h"

namespace pipekit {

struct GanttOptions {
  std::string title;             // heading; default "<schedule> (<source>)"
  bool lanes = false;            // one lane per virtual stage instead of one per rank
  double width = 1200;           // pixels
  double time_domain_ms = 0;     // x axis end; 0 = the timeline's span
  std::string id_prefix = "pk";  // unique per chart when several share one page
  bool standalone = true;        // XML declaration and xmlns (off when inlined in HTML)
  bool legend = true;
};

std::string render_gantt_svg(const Timeline& t, const GanttOptions& o = {});

// Draws the chart (heading, rows, axis, legend) with its top-left corner at the
// current origin of `w`; returns the height used. For composite charts.
double draw_gantt(SvgWriter& w, const Timeline& t, const GanttOptions& o);

// Opening <svg ...> of a standalone or inline chart of the given size.
void open_svg(SvgWriter& w, double width, double height, bool standalone, const std::string& label);

}  // namespace pipekit
