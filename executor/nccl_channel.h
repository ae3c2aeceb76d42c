// Point-to-point between ranks that own different GPUs, through NCCL.
//
// NCCL has no message tags: a receive takes the next message its peer sent on
// the same communicator. The runtime therefore uses two channels, one per
// direction of the pipeline (activations downstream, gradients upstream), so
// a pair of ranks never has sends crossing in both directions on one
// communicator (which can deadlock without group calls), and it checks before
// the first step that every lowered send order equals the matching receive
// order (fifo_order_mismatches); if not, it falls back to Gloo.
// Each channel is its own ProcessGroupNCCL (its own communicators and CUDA
// streams, ordered after the producing stream by NCCL's Work). Works only in
// builds with PIPEKIT_TORCH_NCCL; elsewhere make_nccl_channel() throws.
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace pipekit {

class PeerChannel {
 public:
  virtual ~PeerChannel() = default;
  virtual c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor>& tensors, int peer, int tag) = 0;
  virtual c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor>& tensors, int peer, int tag) = 0;
};

// One NCCL process group over all ranks under `prefix` in `store`; `device`
// is this rank's CUDA device (set current before the communicators exist).
std::unique_ptr<PeerChannel> make_nccl_channel(const c10::intrusive_ptr<c10d::Store>& store,
                                               const std::string& prefix, int rank, int world,
                                               std::chrono::milliseconds timeout, int device);

}  // namespace pipekit
