// Loss scaling, so that small gradients survive a low precision (fp16's
// smallest normal number is 6e-5): the last stage multiplies each
// micro-batch's loss by the scale, every gradient sent or accumulated is
// scaled by it, and the update divides it out.
//   dynamic  start at `init`; a step whose gradients hold an inf or NaN on any
//            rank is skipped on every rank and the scale halves; after
//            `window` good steps in a row it doubles. Default for fp16.
//   fixed    a constant scale; an overflow stops the run (skipping silently
//            would hide that the scale is too large).
//   none     scale 1, no check. Default for fp32 and bf16.
// All ranks decide together: each rank's overflow flag meets the others' in
// one all-reduce at its first STEP of the step, so no rank updates while
// another skips (the hang and divergence frameworks get when one stage
// skips alone). Flush schedules only: an asynchronous stream has no moment
// at which all ranks have finished the same step.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace pipekit {

class LossScaler {
 public:
  enum class Mode { none, fixed, dynamic };

  LossScaler() = default;
  LossScaler(Mode mode, double init, int window);
  // "dynamic", "none", or a positive number (fixed); throws InputError(source).
  static LossScaler parse(const std::string& text, double init, int window, const std::string& source);

  Mode mode() const { return mode_; }
  bool active() const { return mode_ != Mode::none; }
  double scale() const { return scale_; }

  // The step's outcome, the same on every rank: an overflow halves a dynamic
  // scale (and skips the update); a good step counts towards doubling it.
  void record(bool overflow);
  int skipped_steps() const { return skipped_; }

 private:
  Mode mode_ = Mode::none;
  double scale_ = 1;
  int window_ = 1000;
  int good_ = 0, skipped_ = 0;
};

// Whether any of the tensors holds an inf or NaN (undefined ones are skipped).
bool has_inf_or_nan(const std::vector<torch::Tensor>& tensors);

std::string to_string(LossScaler::Mode m);

}  // namespace pipekit
