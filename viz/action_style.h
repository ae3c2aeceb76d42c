// How each kind of timeline event looks in every chart: fill colour, legend
// name and a short label. One place so the Gantt chart, the comparison chart
// and the HTML legend agree.
#pragma once

#include <string>

#include "core/action.h"

namespace pipekit {

struct ActionStyle {
  const char* fill;    // CSS colour
  const char* text;    // label colour drawn on the fill
  const char* legend;  // "forward", "backward (input)", ...
};

const ActionStyle& action_style(ActionType t);
// Darker variant for odd virtual-stage chunks, so interleaved chunks differ.
std::string chunk_fill(ActionType t, int chunk);

inline constexpr const char* kBubbleFill = "#fbe3e3";
inline constexpr const char* kBubbleStroke = "#e07b7b";

}  // namespace pipekit
