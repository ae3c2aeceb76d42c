// The training loss: what the last stage computes from its output and the
// targets, identically in the pipeline, the one-process reference and the
// profiler.
//
//   cross_entropy  output [..., C] (class scores), targets [...] class ids in 0..C-1
//   mse            output and targets of the same shape (targets as floats)
//   script:FILE    a scripted module (output, target) -> scalar tensor
//
// Every loss is the mean over the micro-batch's samples (and positions),
// computed in fp32 whatever the output's precision (as autocast does); the
// runtime divides it by the micro-batches per step so that gradients
// accumulated over micro-batches equal the full batch's.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace pipekit {

class LossFunction {
 public:
  LossFunction() = default;  // cross_entropy
  // spec: cross_entropy, mse or script:FILE. Throws InputError(source) for an
  // unknown name or a script that cannot be loaded.
  static LossFunction parse(const std::string& spec, const std::string& source);
  // What the targets imply when --loss is not given: cross_entropy for
  // integer class ids, mse for floats.
  static std::string default_for(const torch::Tensor& targets);

  torch::Tensor operator()(const torch::Tensor& output, const torch::Tensor& targets) const;
  const std::string& spec() const { return spec_; }

 private:
  enum class Kind { cross_entropy, mse, script } kind_ = Kind::cross_entropy;
  std::string spec_ = "cross_entropy";
  std::shared_ptr<torch::jit::Module> script_;
};

}  // namespace pipekit
