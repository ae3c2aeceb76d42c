// Hand-made timelines for the viz tests, independent of the simulator: a
// GPipe-like step on p ranks and m micro-batches with fixed costs (forward 1 ms,
// backward 2 ms, transfers 0.25 ms, step 0.5 ms), optional send/recv events and
// memory samples. With v > 1 the micro-batches alternate between the rank's
// chunks (stage r + p * (k % v)) so chunk labels and lanes get exercised.
#pragma once

#include "core/timeline.h"

namespace pipekit::test {

struct TestTimelineOptions {
  int ranks = 4, microbatches = 8, virtual_stages = 1;
  bool comm = true, memory = true;
  double fwd = 1, bwd = 2, comm_ms = 0.25, step = 0.5;
  std::int64_t device_memory = 0;
  std::string schedule = "gpipe";
};

Timeline make_test_timeline(const TestTimelineOptions& o);

}  // namespace pipekit::test
