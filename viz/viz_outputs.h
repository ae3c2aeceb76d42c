// Writing the pictures of a timeline to files, shared by `pipekit viz` and any
// command that produces a timeline (e.g. `pipekit simulate --svg ...`).
//
// Each non-empty path gets its output: svg = Gantt chart (the comparison chart
// when `compare` is given), memory_svg = memory chart, html = self-contained
// report, trace = Perfetto / Chrome trace JSON. Returns one line per written
// file ("gantt svg: out.svg") for the caller to print. Unwritable paths throw
// InputError naming the path.
#pragma once

#include <string>
#include <vector>

#include "core/plan.h"
#include "core/timeline.h"

namespace pipekit {

struct VizOutputs {
  std::string svg, memory_svg, html, trace;
  std::string title;   // chart and report heading; empty = default
  bool lanes = false;  // Gantt lane per virtual stage
  bool any() const { return !svg.empty() || !memory_svg.empty() || !html.empty() || !trace.empty(); }
};

std::vector<std::string> write_viz_outputs(const VizOutputs& out, const Timeline& t,
                                           const Plan* plan = nullptr, const Timeline* compare = nullptr);

}  // namespace pipekit
