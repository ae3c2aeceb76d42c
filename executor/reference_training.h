// The one-process training that --verify compares the pipeline against: the
// whole model in one process, from the same initial weights, on the same
// micro-batches, with the same loss scaling and optimizer, micro-batch by
// micro-batch in order 0..m-1. With tied weights the head really uses the
// embedding's table (one parameter), as in the unsplit model.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "executor/run_config.h"

namespace pipekit {

struct ReferenceResult {
  std::vector<torch::Tensor> stage_params;  // per global stage: flat_params of its layers
  std::vector<double> losses;               // per step: mean loss over the batch
};

ReferenceResult reference_train(const RunConfig& c);

}  // namespace pipekit
