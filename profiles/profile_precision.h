// A profile used in the precision it was measured in, or, where the user
// allows it, carried to another: the layers' byte sizes (weights,
// activations, messages) scale with the element size; times and the model
// input stay as measured; the profile's meta says so. Planning or simulating a fp32 profile as bf16
// without saying so would be a silently wrong answer.
#pragma once

#include <string>

#include "core/precision.h"
#include "core/profile.h"

namespace pipekit {

// `p` when it is in `want`; otherwise, with `allow_mismatch`, the scaled
// copy, else an InputError naming `source`, both precisions and the fixes.
Profile profile_in_precision(Profile p, Precision want, bool allow_mismatch, const std::string& source);

}  // namespace pipekit
