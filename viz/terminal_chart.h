// A compact per-rank chart of a Timeline for the terminal.
//
// One line per rank, `width` characters in all (labels included, at least 20):
// each column is step_time / columns ms; a column shows the compute event that
// covers it (later events win when several share a column): F B I W R, S for an
// optimizer step, A for a gradient all-reduce, '.' for idle. Odd micro-batches
// print in lower case so neighbouring actions stay apart; when an action is wide
// enough its micro-batch number follows the letter ("F12fff"). A scale line with
// ticks and the step time ends the chart, then a one-line legend.
#pragma once

#include <string>

#include "core/timeline.h"

namespace pipekit {

std::string render_terminal_chart(const Timeline& timeline, int width = 100);

}  // namespace pipekit
