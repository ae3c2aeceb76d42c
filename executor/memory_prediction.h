// The memory model's prediction for a `pipekit run` job, to print beside the
// measured peaks (`pipekit run --predict-memory`): the executor-order replay
// of simulator/memory_model.h, as `run --compare` predicts memory.
//
// The model's layer sizes come from one probe micro-batch through the whole
// model on this process: parameter bytes, output bytes, and the bytes a
// forward keeps for backward (live CPU bytes after the layer's forward with
// autograd minus before, counted by the memory meter, so the output is
// included). The predicted "dynamic" memory of a rank is what the
// measurement counts: activations and buffers at the replayed peak plus the
// weight versions beyond the first.
#pragma once

#include <cstdint>
#include <vector>

#include "executor/run_config.h"

namespace pipekit {

struct PredictedRankMemory {
  std::int64_t activations = 0;     // saved activations + buffers at the peak
  std::int64_t extra_versions = 0;  // bytes of weight versions beyond one
  int weight_versions = 1;          // most versions a stage of the rank keeps
};

// One entry per rank. Builds the whole model once (meant for small models).
std::vector<PredictedRankMemory> predict_memory(const RunConfig& c);

}  // namespace pipekit
