// Memory over time as SVG: small multiples, one panel per rank, all on the same
// time and byte scales so ranks compare at a glance. Each panel stacks the
// terms (weights incl. extra versions, gradients, optimizer state, activations,
// buffers) as step areas (a sample's value holds until the rank's next sample),
// marks and labels the peak, and draws the device limit as a dashed red line
// when the timeline has one (device_memory_bytes > 0). A timeline without
// memory samples gives a small chart saying so.
#pragma once

#include <string>

#include "core/timeline.h"
#include "viz/svg_writer.h"

namespace pipekit {

struct MemoryChartOptions {
  std::string title;  // default "Memory per rank: <schedule>"
  double width = 1200;
  double time_domain_ms = 0;  // 0 = timeline span
  int columns = 0;            // panels per row; 0 = by rank count
  bool standalone = true;
};

std::string render_memory_svg(const Timeline& t, const MemoryChartOptions& o = {});

}  // namespace pipekit
