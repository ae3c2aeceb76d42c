// A profile at a micro-batch size that was not measured, from profiles of the
// same model measured at other sizes.
//
// Per layer and per quantity, with b the wanted size and b1 < b2 the two
// measured sizes nearest to it (the two bracketing it when b lies between two
// measurements, else the two nearest on its side):
//   x(b) = x(b1) + (x(b2) - x(b1)) * (b - b1) / (b2 - b1), clamped at 0.
// Interpolated so: forward, backward, input- and weight-gradient times,
// output, saved and workspace bytes, and the model input bytes. Parameters and
// the optimizer's step (step_ms, weight copies) do not depend on the
// micro-batch size: taken from the nearest measurement.
// A measured size is returned as measured; one measurement can only answer
// its own size. Time linear in the batch between two nearby sizes is what a
// kernel that is past its launch overhead does (and the affine term keeps that
// overhead); activation bytes are exactly proportional to the batch.
// Throws InputError (source "--profile") when the profiles are not of one
// model (layer count, names), when two share a size, or a size is unrecorded.
#pragma once

#include <vector>

#include "core/profile.h"

namespace pipekit {

Profile interpolate_profile(const std::vector<Profile>& measured, int microbatch_size);

}  // namespace pipekit
