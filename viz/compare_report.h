// The outputs of `pipekit run --compare` from its result (JSON, format
// pipekit-sim-vs-real/1, built by executor/sim_vs_real.h): the result file,
// the predicted timeline beside it (for `pipekit viz`), the HTML report with
// the measured and predicted timelines on one scale, and a table on the
// console. The charts show the recorded last step; the title also gives the
// median step the error is computed from.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/timeline.h"

namespace pipekit {

struct CompareOutputs {
  std::string json;                // the result
  std::string predicted_timeline;  // the predicted timeline
  std::string html;                // the report
};

// Writes the files (InputError naming an unwritable path) and prints the table.
void write_compare_report(const nlohmann::ordered_json& result, const Timeline& measured,
                          const Timeline& predicted, const CompareOutputs& out);

}  // namespace pipekit
