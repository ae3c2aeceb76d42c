#include "executor/memory_meter.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>

namespace pipekit::memory_meter {
namespace {

std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};

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

  c10::DataPtr allocate(std::size_t n) const override {
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

std::int64_t live_bytes() { return g_live.load(); }
std::int64_t peak_bytes() { return g_peak.load(); }
void reset_peak() { g_peak.store(g_live.load()); }

}  // namespace pipekit::memory_meter
