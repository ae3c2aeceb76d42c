#include "viz/chart_scale.h"

#include <cmath>
#include <cstdio>

namespace pipekit {

double nice_step(double max, int target) {
  if (!(max > 0) || target < 1) return 1;
  double raw = max / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nice * mag;
}

std::vector<double> nice_ticks(double max, int target, bool round_up) {
  std::vector<double> ticks;
  if (!(max > 0)) return {0};
  double step = nice_step(max, target);
  double limit = round_up ? std::ceil(max / step - 1e-9) * step : max;
  for (int i = 0;; ++i) {
    double v = i * step;
    if (v > limit + step * 1e-9) break;
    ticks.push_back(v);
    if (i > 1000) break;
  }
  return ticks;
}

std::string tick_label(double value, double step) {
  int decimals = 0;
  if (step > 0) {
    double s = step;
    while (decimals < 6 && std::fabs(s - std::round(s)) > 1e-9 * std::max(1.0, s)) {
      s *= 10;
      ++decimals;
    }
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace pipekit
