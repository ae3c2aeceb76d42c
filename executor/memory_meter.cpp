#include "executor/memory_meter.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <stdexcept>

#include "executor/gpu_transport.h"
#if PIPEKIT_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <atomic>
#include <utility>

namespace pipekit::memory_meter {
namespace {

std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};
[[maybe_unused]] int g_cuda_device = -1;  // >= 0: read the CUDA caching allocator instead

// LibTorch 2.3 made Allocator::allocate non-const and added copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define PIPEKIT_ALLOCATE_CONST
#define PIPEKIT_ALLOCATOR_COPY_DATA 1
#else
#define PIPEKIT_ALLOCATE_CONST const
#define PIPEKIT_ALLOCATOR_COPY_DATA 0
#endif

struct Block {
  c10::DataPtr inner;
  std::int64_t bytes;
};

void release(void* ctx) {
  auto* b = static_cast<Block*>(ctx);
  g_live.fetch_sub(b->bytes);
  delete b;  // frees the inner allocation through its own deleter
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* base) : base_(base) {}

  c10::DataPtr allocate(std::size_t n) PIPEKIT_ALLOCATE_CONST override {
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    auto* b = new Block{std::move(inner), static_cast<std::int64_t>(n)};
    std::int64_t now = g_live.fetch_add(b->bytes) + b->bytes;
    std::int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
    return {data, b, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
#if PIPEKIT_ALLOCATOR_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif

 private:
  c10::Allocator* base_;
};

}  // namespace

void install() {
  static CountingAllocator* counting = [] {
    auto* a = new CountingAllocator(c10::GetAllocator(c10::DeviceType::CPU));
    c10::SetAllocator(c10::DeviceType::CPU, a, /*priority=*/100);
    return a;
  }();
  (void)counting;
}

#if PIPEKIT_TORCH_CUDA
namespace {
// Allocated bytes (index 0: the aggregate over the small and large pools).
// The Stat type moved between LibTorch versions, so it is never named.
std::pair<std::int64_t, std::int64_t> cuda_allocated() {
  const auto stats =
      c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(g_cuda_device));
  return {stats.allocated_bytes[0].current, stats.allocated_bytes[0].peak};
}
}  // namespace
#endif

std::int64_t live_bytes() {
#if PIPEKIT_TORCH_CUDA
  if (g_cuda_device >= 0) return cuda_allocated().first;
#endif
  return g_live.load();
}

std::int64_t peak_bytes() {
#if PIPEKIT_TORCH_CUDA
  if (g_cuda_device >= 0) return cuda_allocated().second;
#endif
  return g_peak.load();
}

void reset_peak() {
#if PIPEKIT_TORCH_CUDA
  if (g_cuda_device >= 0) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(g_cuda_device));
    return;
  }
#endif
  g_peak.store(g_live.load());
}

void use_cuda(int device) {
#if PIPEKIT_TORCH_CUDA
  g_cuda_device = device;
#else
  (void)device;
  throw std::runtime_error("memory_meter::use_cuda: this pipekit was built against a LibTorch without CUDA");
#endif
}

}  // namespace pipekit::memory_meter
