#include "executor/loss_function.h"

#include <fmt/format.h>
#include <torch/script.h>

#include "core/error.h"
#include "executor/torch_error.h"

namespace pipekit {

LossFunction LossFunction::parse(const std::string& spec, const std::string& source) {
  LossFunction f;
  f.spec_ = spec.empty() ? "cross_entropy" : spec;
  if (f.spec_ == "cross_entropy") return f;
  if (spec == "mse") {
    f.kind_ = Kind::mse;
    return f;
  }
  if (spec.rfind("script:", 0) == 0 && spec.size() > 7) {
    const std::string file = spec.substr(7);
    f.kind_ = Kind::script;
    try {
      f.script_ = std::make_shared<torch::jit::Module>(torch::jit::load(file));
    } catch (const std::exception& e) {
      throw InputError(file, "",
                       fmt::format("cannot load the loss as TorchScript ({}); save a module whose forward "
                                   "takes (output, target) and returns a scalar with "
                                   "torch.jit.script(m).save(path)",
                                   first_line(e)));
    }
    return f;
  }
  throw InputError(source, "", "'" + spec + "' is not a loss: use cross_entropy, mse or script:FILE");
}

std::string LossFunction::default_for(const torch::Tensor& targets) {
  return targets.is_floating_point() ? "mse" : "cross_entropy";
}

torch::Tensor LossFunction::operator()(const torch::Tensor& output, const torch::Tensor& targets) const {
  switch (kind_) {
    case Kind::cross_entropy: {
      const auto classes = output.size(-1);
      return torch::nn::functional::cross_entropy(output.reshape({-1, classes}).to(torch::kFloat),
                                                  targets.reshape({-1}));
    }
    case Kind::mse:
      // Equal shapes only: mse_loss would broadcast [N, 1] against [N] to [N, N].
      if (output.sizes() != targets.sizes())
        throw std::runtime_error(
            fmt::format("mse needs targets of the output's shape: output [{}], targets [{}]",
                        fmt::join(output.sizes(), ", "), fmt::join(targets.sizes(), ", ")));
      return torch::mse_loss(output.to(torch::kFloat), targets.to(torch::kFloat));
    case Kind::script:
      break;
  }
  c10::IValue v = script_->forward({output.to(torch::kFloat), targets});
  if (!v.isTensor() || v.toTensor().numel() != 1)
    throw std::runtime_error(fmt::format("the scripted loss {} returned a {}, not a scalar tensor",
                                         spec_.substr(7),
                                         v.isTensor() ? "tensor of many values" : v.tagKind()));
  return v.toTensor().reshape({});
}

}  // namespace pipekit
