#include "executor/weight_stash.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace pipekit {

WeightStash::WeightStash(const std::vector<torch::Tensor>& params, WeightUpdate rule, int minibatch)
    : rule_(rule), minibatch_(std::max(1, minibatch)) {
  std::vector<torch::Tensor> v0;
  for (const auto& p : params) {
    master_.push_back(p.detach().clone().requires_grad_(true));
    v0.push_back(p.detach().clone());
  }
  versions_[0] = std::move(v0);
}

int WeightStash::begin_forward(int mb) {
  const int v = rule_ == WeightUpdate::delayed_minibatch ? std::max(mb / minibatch_ - 1, 0) : updates_;
  if (!versions_.count(v))
    throw std::runtime_error(fmt::format("micro-batch {} needs weight version {}, which {}", mb, v,
                                         v > updates_ ? "does not exist yet" : "was already dropped"));
  in_flight_[mb] = v;
  forwards_ = std::max(forwards_, mb + 1);  // micro-batches of the stream this stage has passed
  return v;
}

void WeightStash::load(std::vector<torch::Tensor>& params, int v) {
  if (v < 0 || loaded_ == v) return;
  torch::NoGradGuard no_grad;
  const auto& w = versions_.at(v);
  // variable_data(): same storage, its own version counter, so the saved
  // tensors of graphs in flight do not see the copy as a modification.
  for (std::size_t i = 0; i < w.size(); ++i) params[i].variable_data().copy_(w[i]);
  loaded_ = v;
}

void WeightStash::update(std::vector<torch::Tensor>& params, torch::optim::Optimizer& opt) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    torch::Tensor& mg = master_[i].mutable_grad();
    if (!mg.defined()) mg = torch::zeros_like(master_[i]);  // the runtime allocates them before the stream
    torch::Tensor g = params[i].grad();
    if (g.defined()) {
      mg.copy_(g);
      g.zero_();
    } else {
      mg.zero_();
    }
  }
  opt.step();
  ++updates_;
  // Keep the versions micro-batches in flight use and the oldest any later
  // forward may pick; drop the others before cloning the new one.
  const int future =
      rule_ == WeightUpdate::delayed_minibatch ? std::max(forwards_ / minibatch_ - 1, 0) : updates_;
  std::set<int> used;
  for (auto& [mb, v] : in_flight_) used.insert(v);
  for (auto it = versions_.begin(); it != versions_.end();)
    it = it->first < future && !used.count(it->first) ? versions_.erase(it) : std::next(it);
  std::vector<torch::Tensor> w;
  for (auto& m : master_) w.push_back(m.detach().clone());
  versions_[updates_] = std::move(w);
  if (updates_ < future && !used.count(updates_)) versions_.erase(updates_);
  max_versions_ = std::max(max_versions_, versions_.size());
}

void WeightStash::load_newest(std::vector<torch::Tensor>& params) const {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].variable_data().copy_(master_[i]);
}

void WeightStash::restore(int updates, int forwards, std::size_t max_versions,
                          std::map<int, std::vector<torch::Tensor>> versions, std::map<int, int> in_flight) {
  updates_ = updates;
  forwards_ = forwards;
  max_versions_ = max_versions;
  versions_ = std::move(versions);
  in_flight_ = std::move(in_flight);
  loaded_ = -1;  // the layers hold the built weights: load what the next action needs
}

}  // namespace pipekit
