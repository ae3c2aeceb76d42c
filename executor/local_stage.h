// One pipeline stage as the rank that holds it keeps it during a run: its
// layers and optimizer, and per micro-batch in flight what the schedule's
// next actions need (the stage input and output until the backward, the
// input gradient until it is sent or handed on, the output gradient I used
// until W). Asynchronous schedules add the stage's weight stash; mixed
// precision (core/precision.h) the fp32 master weights, in the stash for
// asynchronous schedules and beside the stage otherwise.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "executor/master_weights.h"
#include "executor/model_layers.h"
#include "executor/weight_stash.h"

namespace pipekit {

struct LocalStage {
  int stage = 0;
  bool first = false, last = false, recompute = false;
  bool async = false;  // weight stashing (pipedream, 2bw)
  bool mixed = false;  // bf16/fp16 working weights, fp32 master weights
  std::vector<ModelLayer> layers;
  std::vector<torch::Tensor> params;  // what the layers compute with
  std::unique_ptr<torch::optim::Optimizer> opt;
  std::vector<std::int64_t> in_shape, out_shape;  // boundary shapes (not for first input / last output)
  std::map<int, torch::Tensor> input, output, grad_in;
  std::map<int, torch::Tensor> out_grad;  // zero-bubble: the output gradient I used, kept for W
  WeightStash stash;                      // asynchronous schedules only
  MasterWeights master;                   // mixed precision, flush schedules
  // gpt tie_weights: this stage's copy of the shared table (embedding in the
  // first stage, head in the last; one stage may hold both).
  torch::Tensor tied_embed, tied_head;
  int tied_embed_index = -1, tied_head_index = -1;  // their places in `params`

  // The tensors the optimizer updates: the master weights (mixed precision,
  // or the stash's for asynchronous schedules), else the working weights.
  std::vector<torch::Tensor>& optimized() {
    if (async) return stash.master();
    return mixed ? master.tensors() : params;
  }
  // Where parameter i's gradient accumulates across micro-batches: the fp32
  // master weights' .grad in mixed precision, the working weights' otherwise.
  torch::Tensor& accumulated_grad(std::size_t i) {
    return mixed ? optimized().at(i).mutable_grad() : params.at(i).mutable_grad();
  }
  // After a backward: mixed precision folds the low-precision gradients into
  // the fp32 ones (executor/master_weights.h).
  void fold_grads() {
    if (!mixed) return;
    // The low-precision gradients stay allocated (zeroed) between backwards,
    // as fp32's do: the memory model counts them as static bytes per
    // parameter, and freeing them would make each backward's end a transient
    // peak the size of the stage's parameters.
    if (async)
      stash.fold(params);
    else
      master.fold(params, /*free_working=*/false);
  }
};

inline std::int64_t tensor_bytes(const torch::Tensor& t) {
  return t.defined() ? static_cast<std::int64_t>(t.numel() * t.element_size()) : 0;
}

// Bytes of one copy of a stage's weights (counted, not copied).
inline std::int64_t param_bytes(const LocalStage& s) {
  std::int64_t n = 0;
  for (const auto& p : s.params) n += tensor_bytes(p);
  return n;
}

}  // namespace pipekit
