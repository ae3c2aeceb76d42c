// Two timelines of the same plan (predicted vs measured, or two schedules) as
// one SVG: two Gantt charts one above the other on ONE time scale (the longer
// span), each with its own heading, plus a line giving the step-time ratio.
#pragma once

#include <string>

#include "core/timeline.h"

namespace pipekit {

struct ComparisonOptions {
  std::string label_a, label_b;  // default "<source>: <schedule>"
  bool lanes = false;
  double width = 1200;
  bool standalone = true;
  std::string id_prefix = "cmp";
};

std::string render_comparison_svg(const Timeline& a, const Timeline& b, const ComparisonOptions& o = {});

}  // namespace pipekit
