#include "executor/loss_scaler.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/units.h"

namespace pipekit {

LossScaler::LossScaler(Mode mode, double init, int window)
    : mode_(mode), scale_(mode == Mode::none ? 1.0 : init), window_(window) {}

LossScaler LossScaler::parse(const std::string& text, double init, int window, const std::string& source) {
  if (!(init > 0) || !std::isfinite(init))
    throw InputError("--loss-scale-init", "", "the initial loss scale must be a positive number, e.g. 65536");
  if (window < 1)
    throw InputError("--loss-scale-window", "", "needs at least 1 good step before the scale grows");
  if (text == "dynamic") return LossScaler(Mode::dynamic, init, window);
  if (text == "none") return LossScaler(Mode::none, 1, window);
  const std::optional<double> v = parse_number(text);
  if (!v || !(*v > 0))
    throw InputError(
        source, "",
        fmt::format("'{}' is not a loss scale; use dynamic, none, or a positive number (fixed)", text));
  return LossScaler(Mode::fixed, *v, window);
}

void LossScaler::record(bool overflow) {
  if (mode_ != Mode::dynamic) return;
  if (overflow) {
    scale_ = std::max(1.0, scale_ / 2);
    good_ = 0;
    ++skipped_;
    return;
  }
  if (++good_ >= window_) {
    scale_ *= 2;
    good_ = 0;
  }
}

bool has_inf_or_nan(const std::vector<torch::Tensor>& tensors) {
  for (const auto& t : tensors)
    if (t.defined() && !torch::isfinite(t).all().item<bool>()) return true;
  return false;
}

std::string to_string(LossScaler::Mode m) {
  switch (m) {
    case LossScaler::Mode::none:
      return "none";
    case LossScaler::Mode::fixed:
      return "fixed";
    case LossScaler::Mode::dynamic:
      return "dynamic";
  }
  return "none";
}

}  // namespace pipekit
