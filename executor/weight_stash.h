// Weight stashing for the asynchronous schedules (pipedream, 2bw), one stage's.
//
// The optimizer updates `master`, the newest weights in fp32
// (executor/master_weights.h). The layers compute with `params`, into which
// the version a forward or backward needs is copied without autograd seeing
// it (variable_data), so the graphs of micro-batches in flight stay valid.
// Versions are kept in the working precision. Each forward records the version it used; its
// backward loads exactly that one again.
//   pipedream: a forward uses the newest weights (version = updates so far).
//   2bw:       minibatch t computes with the weights after t-1 updates, so
//              the update it feeds is one minibatch stale.
// After each update the stash drops every version no micro-batch in flight
// uses and no later forward may pick, before keeping the new one, so it never
// holds a copy more than it keeps.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <map>
#include <vector>

#include "core/schedule_traits.h"
#include "executor/master_weights.h"

namespace pipekit {

class WeightStash {
 public:
  WeightStash() = default;
  // Version 0 and the master copy from `params`; `minibatch` micro-batches make one.
  WeightStash(const std::vector<torch::Tensor>& params, WeightUpdate rule, int minibatch);

  // The version the forward of stream micro-batch `mb` uses; throws when that
  // version does not exist (yet, or any more). Records it as in flight.
  int begin_forward(int mb);
  int version_of(int mb) const { return in_flight_.at(mb); }
  void end_backward(int mb) { in_flight_.erase(mb); }
  // Copies version `v` into `params` unless it is there already (v < 0: no-op).
  void load(std::vector<torch::Tensor>& params, int v);
  // Mixed precision: adds a backward's working gradients into the master's
  // fp32 gradients and frees them (executor/master_weights.h).
  void fold(std::vector<torch::Tensor>& params) { master_.fold(params, true); }
  // Moves `params`' gradients to the master weights (zeroing them; mixed
  // precision has folded them already), steps the optimizer (which owns
  // `master`) and keeps the new version.
  void update(std::vector<torch::Tensor>& params, torch::optim::Optimizer& opt);
  // Copies the newest weights into `params` (the end of the stream).
  void load_newest(std::vector<torch::Tensor>& params) const;

  std::vector<torch::Tensor>& master() { return master_.tensors(); }
  const std::vector<torch::Tensor>& master() const { return master_.tensors(); }
  int updates() const { return updates_; }
  int forwards() const { return forwards_; }
  std::size_t max_versions() const { return max_versions_; }
  const std::map<int, std::vector<torch::Tensor>>& versions() const { return versions_; }
  const std::map<int, int>& in_flight() const { return in_flight_; }

  // A checkpoint's state (executor/checkpoint.h): counters, kept versions and
  // the micro-batches in flight with their versions. `params` are left to
  // load the version the next action needs.
  void restore(int updates, int forwards, std::size_t max_versions,
               std::map<int, std::vector<torch::Tensor>> versions, std::map<int, int> in_flight);

 private:
  WeightUpdate rule_ = WeightUpdate::flush;
  int minibatch_ = 1;
  MasterWeights master_;
  torch::ScalarType working_ = torch::kFloat;
  std::map<int, std::vector<torch::Tensor>> versions_;  // updates applied -> weights
  std::map<int, int> in_flight_;                        // micro-batch -> version its forward used
  int updates_ = 0, loaded_ = 0, forwards_ = 0;
  std::size_t max_versions_ = 1;
};

}  // namespace pipekit
