#include "executor/host_memory.h"

#include <malloc.h>

#include <cstdlib>
#include <string>

namespace pipekit {

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
  (void)done;
#endif
}

}  // namespace pipekit
