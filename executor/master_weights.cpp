#include "executor/master_weights.h"

namespace pipekit {

MasterWeights::MasterWeights(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) master_.push_back(p.detach().to(torch::kFloat).clone().requires_grad_(true));
  begin_accumulation();
}

void MasterWeights::fold(std::vector<torch::Tensor>& params, bool free_working) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    torch::Tensor g = params[i].grad();
    if (!g.defined()) continue;
    torch::Tensor& acc = master_[i].mutable_grad();
    if (!acc.defined())
      acc = g.detach().to(torch::kFloat).clone();
    else if (!written_[i])
      acc.copy_(g);
    else
      acc.add_(g);
    written_[i] = 1;
    if (free_working)
      params[i].mutable_grad().reset();
    else
      g.zero_();
  }
}

void MasterWeights::zero_missing() {
  for (std::size_t i = 0; i < master_.size(); ++i) {
    if (written_[i]) continue;
    torch::Tensor& acc = master_[i].mutable_grad();
    if (acc.defined())
      acc.zero_();
    else
      acc = torch::zeros_like(master_[i]);
  }
}

void MasterWeights::copy_to(std::vector<torch::Tensor>& params) const {
  torch::NoGradGuard no_grad;
  // variable_data(): same storage, its own version counter.
  for (std::size_t i = 0; i < params.size(); ++i) params[i].variable_data().copy_(master_[i]);
}

}  // namespace pipekit
