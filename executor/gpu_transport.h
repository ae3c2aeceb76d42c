// How tensors move between pipeline ranks when GPUs are involved.
//
// PIPEKIT_TORCH_CUDA is 1 only when the LibTorch we compile against was built
// with CUDA (executor/CMakeLists.txt sees its torch_cuda/c10_cuda targets);
// Debian's CPU LibTorch ships the CUDA headers but no CUDA libraries, so a
// header check is not enough. PIPEKIT_TORCH_NCCL is 1 when, in addition, its
// ProcessGroupNCCL header and nccl.h were found. Every CUDA-only line in
// executor/ sits behind these macros, so the same sources build against the
// CPU LibTorch.
//
// Choice per pair of ranks: ranks on different GPUs exchange CUDA tensors with
// ProcessGroupNCCL point-to-point (NCCL runs them on its own streams, ordered
// after the producing stream); ranks sharing one GPU (NCCL refuses two ranks on
// one device) or CPU runs use Gloo, with CUDA tensors staged through host
// memory (copy to CPU, send, copy back), which costs two PCIe copies.
#pragma once

#include <string>
#include <vector>

#ifndef PIPEKIT_TORCH_CUDA
#define PIPEKIT_TORCH_CUDA 0
#endif
#ifndef PIPEKIT_TORCH_NCCL
#define PIPEKIT_TORCH_NCCL 0
#endif

namespace pipekit {

enum class Transport { gloo, gloo_host_staged, nccl };
const char* to_string(Transport t);

// Device of each rank: -1 = CPU, else an id unique per physical GPU (ranks on
// different hosts never share one). All GPUs distinct && NCCL build -> nccl; any rank on a GPU otherwise ->
// gloo_host_staged; all CPU -> gloo.
Transport choose_transport(const std::vector<int>& rank_device);

// CUDA device a local rank should use: local_rank % visible devices, or -1 when
// LibTorch has no CUDA device (runtime check; works on the CPU build too).
int cuda_device_for_local_rank(int local_rank);

// The GPU's identity across processes: its UUID in hex (a per-rank
// CUDA_VISIBLE_DEVICES makes every rank's GPU index 0, so the index alone
// would call distinct GPUs one); "cuda:<index>" where the UUID is unavailable.
std::string cuda_device_identity(int gpu);

// A rank's device as ranks publish it to each other and timelines record it
// (meta "device.rank<R>"): "index identity host", index -1 and identity "cpu"
// for the CPU. Ranks with the same key() share one processor.
struct DeviceId {
  int index = -1;
  std::string identity = "cpu", host;
  std::string key() const { return identity + " " + host; }
};
std::string format_device_id(const DeviceId& d);
DeviceId parse_device_id(const std::string& text);  // missing fields keep their defaults

// One line saying what was chosen and why (printed by the runtime at start).
// `devices` names each rank's device ("cuda:0", "cpu").
std::string describe_transport(Transport t, const std::vector<std::string>& devices);

}  // namespace pipekit
