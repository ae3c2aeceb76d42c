#include "executor/gpu_transport.h"

#include <torch/torch.h>
#if PIPEKIT_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include <fmt/format.h>

#include <set>
#include <sstream>

namespace pipekit {

const char* to_string(Transport t) {
  switch (t) {
    case Transport::gloo:
      return "gloo";
    case Transport::gloo_host_staged:
      return "gloo (host-staged CUDA tensors)";
    case Transport::nccl:
      return "nccl";
  }
  return "?";
}

Transport choose_transport(const std::vector<int>& rank_device) {
  bool any_gpu = false;
  std::set<int> used;
  bool distinct = true;
  for (int d : rank_device) {
    if (d < 0) {
      distinct = false;
      continue;
    }
    any_gpu = true;
    if (!used.insert(d).second) distinct = false;
  }
  if (!any_gpu) return Transport::gloo;
  return PIPEKIT_TORCH_NCCL && distinct ? Transport::nccl : Transport::gloo_host_staged;
}

std::string cuda_device_identity(int gpu) {
#if PIPEKIT_TORCH_CUDA
  const cudaDeviceProp* prop = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(gpu));
  std::string hex;
  for (unsigned char b : prop->uuid.bytes) hex += fmt::format("{:02x}", b);
  return "GPU-" + hex;
#else
  return fmt::format("cuda:{}", gpu);
#endif
}

std::string format_device_id(const DeviceId& d) {
  return fmt::format("{} {} {}", d.index, d.identity, d.host);
}

DeviceId parse_device_id(const std::string& text) {
  DeviceId d;
  std::istringstream in(text);
  in >> d.index >> d.identity >> d.host;
  return d;
}

int cuda_device_for_local_rank(int local_rank) {
  if (!torch::cuda::is_available()) return -1;
  const int n = static_cast<int>(torch::cuda::device_count());
  return n > 0 ? local_rank % n : -1;
}

std::string describe_transport(Transport t, const std::vector<std::string>& devices) {
  std::string devs;
  for (std::size_t r = 0; r < devices.size(); ++r)
    devs += fmt::format("{}rank {}: {}", r ? ", " : "", r, devices[r]);
  std::string why;
  if (t == Transport::gloo_host_staged)
    why = PIPEKIT_TORCH_NCCL
              ? " (ranks share a GPU: NCCL needs one rank per device, so CUDA tensors go through "
                "host memory over Gloo)"
              : " (this pipekit was built without NCCL, so CUDA tensors go through host memory)";
  return fmt::format("transport {}{}; {}", to_string(t), why, devs);
}

}  // namespace pipekit
