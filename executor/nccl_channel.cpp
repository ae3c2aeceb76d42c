#include "executor/nccl_channel.h"

#include <stdexcept>

#include "executor/gpu_transport.h"

#if PIPEKIT_TORCH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace pipekit {

#if PIPEKIT_TORCH_NCCL
namespace {

class NcclChannel final : public PeerChannel {
 public:
  NcclChannel(const c10::intrusive_ptr<c10d::Store>& store, const std::string& prefix, int rank, int world,
              std::chrono::milliseconds timeout, int device) {
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto scoped = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(scoped, rank, world, opts);
  }
  c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor>& t, int peer, int tag) override {
    return pg_->send(t, peer, tag);
  }
  c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor>& t, int peer, int tag) override {
    return pg_->recv(t, peer, tag);
  }

 private:
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> pg_;
};

}  // namespace

std::unique_ptr<PeerChannel> make_nccl_channel(const c10::intrusive_ptr<c10d::Store>& store,
                                               const std::string& prefix, int rank, int world,
                                               std::chrono::milliseconds timeout, int device) {
  return std::make_unique<NcclChannel>(store, prefix, rank, world, timeout, device);
}
#else
std::unique_ptr<PeerChannel> make_nccl_channel(const c10::intrusive_ptr<c10d::Store>&, const std::string&,
                                               int, int, std::chrono::milliseconds, int) {
  throw std::runtime_error(
      "this pipekit was built without NCCL (LibTorch without CUDA/NCCL, or nccl.h not found)");
}
#endif

}  // namespace pipekit
