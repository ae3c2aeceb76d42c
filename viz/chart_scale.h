// Axis ticks with "nice" values (1, 2, 2.5, 5 x 10^k) and the linear map from
// data to pixels shared by all charts.
#pragma once

#include <string>
#include <vector>

namespace pipekit {

// About `target` ticks covering [0, max] (max > 0), starting at 0; the last
// tick is >= max only when the range is rounded up by round_up.
std::vector<double> nice_ticks(double max, int target, bool round_up = false);
// Step between nice ticks for [0, max] with about `target` ticks.
double nice_step(double max, int target);
// A tick label: "0", "2.5", "120", "1.25k" trimmed to the precision of `step`.
std::string tick_label(double value, double step);

struct LinearScale {
  double d0 = 0, d1 = 1;  // data domain
  double p0 = 0, p1 = 1;  // pixel range
  double operator()(double v) const { return d1 == d0 ? p0 : p0 + (v - d0) * (p1 - p0) / (d1 - d0); }
};

}  // namespace pipekit
