// Mixed precision's fp32 master weights of one stage (core/precision.h): the
// copy the optimizer updates, whose .grad accumulates the stage's gradients
// in fp32 across micro-batches. After every backward, fold() adds the
// working weights' low-precision gradients into it and frees them, so a step
// over many micro-batches loses nothing to the low precision; after every
// update, copy_to() casts the new weights into the working ones.
// Asynchronous schedules keep theirs in the weight stash; in fp32 they fold
// at the update instead (fold keeps the working gradients, zeroed).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace pipekit {

class MasterWeights {
 public:
  MasterWeights() = default;
  // fp32 clones of `params`, requiring gradients.
  explicit MasterWeights(const std::vector<torch::Tensor>& params);

  bool empty() const { return master_.empty(); }
  std::vector<torch::Tensor>& tensors() { return master_; }
  const std::vector<torch::Tensor>& tensors() const { return master_; }
  // The accumulated fp32 gradient of parameter i (undefined before any fold).
  torch::Tensor& grad(std::size_t i) { return master_.at(i).mutable_grad(); }

  // Adds each defined working gradient into its fp32 gradient (the first
  // fold of a parameter after begin_accumulation() overwrites instead), then
  // frees it (`free_working`) or zeroes it.
  void fold(std::vector<torch::Tensor>& params, bool free_working);
  // The next folds start a new sum; zero_missing() zeroes the fp32
  // gradients no fold has written since (a parameter no backward reached).
  void begin_accumulation() { written_.assign(master_.size(), 0); }
  void zero_missing();
  // Casts the fp32 weights into `params` in place, without autograd seeing
  // a modification (graphs in flight keep their saved tensors valid).
  void copy_to(std::vector<torch::Tensor>& params) const;

 private:
  std::vector<torch::Tensor> master_;
  std::vector<char> written_;  // per parameter: folded since begin_accumulation()
};

}  // namespace pipekit
