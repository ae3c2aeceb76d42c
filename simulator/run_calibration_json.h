// A calibration (simulator/run_calibration.h) as JSON, format
// "pipekit-calibration/1" (docs/formats.md), so a machine measured once by
// `pipekit run --compare` can calibrate `pipekit simulate --calibration` for
// plans nobody ran. `run --compare` embeds the document under
// "calibration" -> "model" of its own JSON; the reader takes either.
#pragma once

#include <string>
#include <string_view>

#include "simulator/run_calibration.h"

namespace pipekit {

std::string calibration_to_json(const RunCalibration& c);

// Throws InputError naming `source` and the JSON path for a document that is
// neither a calibration nor a --compare result holding one, or for a bad field.
RunCalibration calibration_from_json(std::string_view text, const std::string& source);

}  // namespace pipekit
