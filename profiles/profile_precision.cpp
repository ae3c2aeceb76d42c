#include "profiles/profile_precision.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"

namespace pipekit {
namespace {

std::int64_t scaled(std::int64_t bytes, double ratio) {
  return static_cast<std::int64_t>(std::llround(static_cast<double>(bytes) * ratio));
}

}  // namespace

Profile profile_in_precision(Profile p, Precision want, bool allow_mismatch, const std::string& source) {
  const Precision have = p.precision();
  if (have == want) return p;
  if (!allow_mismatch)
    throw InputError(
        source, "$.dtype",
        fmt::format("the profile was measured in {} and {} is asked for; measure it in {} (pipekit "
                    "profile --precision {}), or pass --allow-precision-mismatch to scale its bytes "
                    "by {}/{} and keep its {} times",
                    to_string(have), to_string(want), to_string(want), to_string(want), element_bytes(want),
                    element_bytes(have), to_string(have)));
  const double ratio = static_cast<double>(element_bytes(want)) / element_bytes(have);
  for (auto& l : p.layers) {
    l.param_bytes = scaled(l.param_bytes, ratio);
    l.output_bytes = scaled(l.output_bytes, ratio);
    l.saved_bytes = scaled(l.saved_bytes, ratio);
    l.workspace_bytes = scaled(l.workspace_bytes, ratio);
  }
  p.meta["precision.scaled_from"] =
      fmt::format("{}: layer bytes scaled by {}/{}; times and model input as measured in {}", to_string(have),
                  element_bytes(want), element_bytes(have), to_string(have));
  p.dtype = to_string(want);
  return p;
}

}  // namespace pipekit
