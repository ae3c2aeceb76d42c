#include "executor/host_memory.h"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace pipekit {

namespace {
bool g_kept = false;
}

void keep_host_memory() {
#if defined(__GLIBC__)
  static const bool done = [] {
    if (const char* off = std::getenv("PIPEKIT_KEEP_HOST_MEMORY"); off && std::string(off) == "0")
      return false;
    auto unset = [](const char* name) { return std::getenv(name) == nullptr; };
    // 32 MiB is glibc's largest mmap threshold on 64-bit systems.
    if (unset("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (unset("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (unset("MALLOC_TOP_PAD_")) mallopt(M_TOP_PAD, 256 << 20);
    return true;
  }();
  g_kept = done;
#endif
}

bool heap_serves(std::int64_t bytes) {
  return g_kept && bytes < (32 << 20);
}

void prefault_host_memory(std::int64_t bytes) {
  if (!g_kept || bytes <= 0) return;
  bytes = std::min<std::int64_t>(bytes, 768LL << 20);  // below the trim threshold less the top pad
  constexpr std::size_t kBlock = 16 << 20;             // below the 32 MiB mmap threshold: from the heap
  std::vector<void*> blocks;
  for (std::int64_t done = 0; done < bytes; done += static_cast<std::int64_t>(kBlock)) {
    void* p = std::malloc(kBlock);
    if (!p) break;
    std::memset(p, 0, kBlock);
    blocks.push_back(p);
  }
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) std::free(*it);
}

long minor_page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

}  // namespace pipekit
