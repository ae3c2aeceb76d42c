// Test support: a generated (unlowered) schedule from its parameters in one call.
#pragma once

#include <string>

#include "core/plan.h"
#include "planner/schedule_generator.h"

namespace pipekit::test {

inline Schedule make_schedule(const std::string& kind, int p, int m, int v = 1,
                              Recompute rc = Recompute::never, int minibatches = 1) {
  ScheduleSpec spec;
  spec.kind = kind;
  spec.microbatches = m;
  spec.virtual_stages = v;
  spec.recompute = rc;
  spec.minibatches = minibatches;
  return generate_schedule(spec, p);
}

}  // namespace pipekit::test
