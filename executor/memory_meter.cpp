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

// Each block carries its size in a header before the data, so that the data
// pointer is also the context: LibTorch's raw_allocate (used by some kernels,
// the bf16 ones among them) requires that. The header keeps the alignment.
constexpr std::size_t kHeader = 64;
c10::DeleterFnPtr g_base_free = nullptr;

void count(std::int64_t bytes) {
  const std::int64_t now = g_live.fetch_add(bytes) + bytes;
  std::int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

void release(void* data) {
  auto* base = static_cast<char*>(data) - kHeader;
  g_live.fetch_sub(*reinterpret_cast<std::int64_t*>(base));
  g_base_free(base);
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* base) : base_(base) { g_base_free = base->raw_deleter(); }

  c10::DataPtr allocate(std::size_t n) PIPEKIT_ALLOCATE_CONST override {
    c10::DataPtr inner = base_->allocate(n + kHeader);
    if (inner.get() != inner.get_context() || !g_base_free)
      throw std::runtime_error("memory meter: the CPU allocator under it frees by context, not pointer");
    auto* base = static_cast<char*>(inner.release_context());
    *reinterpret_cast<std::int64_t*>(base) = static_cast<std::int64_t>(n);
    count(static_cast<std::int64_t>(n));
    void* data = base + kHeader;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
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
