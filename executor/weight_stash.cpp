#include "executor/weight_stash.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace pipekit {

WeightStash::WeightStash(const std::vector<torch::Tensor>& params, WeightUpdate rule, int minibatch)
    : rule_(rule), minibatch_(std::max(1, minibatch)), master_(params) {
  std::vector<torch::Tensor> v0;
  for (const auto& p : params) v0.push_back(p.detach().clone());
  if (!params.empty()) working_ = params[0].scalar_type();
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
  master_.fold(params, /*free_working=*/false);
  master_.zero_missing();
  opt.step();
  master_.begin_accumulation();
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
  for (const auto& m : master_.tensors()) w.push_back(m.detach().to(working_).clone());
  versions_[updates_] = std::move(w);
  if (updates_ < future && !used.count(updates_)) versions_.erase(updates_);
  max_versions_ = std::max(max_versions_, versions_.size());
}

void WeightStash::load_newest(std::vector<torch::Tensor>& params) const {
  master_.copy_to(params);
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
