// 2bw: PipeDream-2BW (Narayanan et al. ICML 2021), no flush.
//
// The same 1F1B stream as pipedream over N = microbatches * minibatches
// micro-batches (warm-up min(p - s - 1, N) on rank s), but gradients accumulate
// over each minibatch of m micro-batches: a STEP follows the backward of
// micro-batch k*m + m - 1 only. Only two weight versions are kept: the newest,
// and the one in-flight micro-batches of the previous minibatch still use.
#pragma once

#include "core/plan.h"
#include "core/schedule.h"

namespace pipekit {

Schedule generate_two_bw(const ScheduleSpec& spec, int num_ranks);

}  // namespace pipekit
