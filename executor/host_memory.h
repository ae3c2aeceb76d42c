// Host memory behaviour of processes that train (ranks, the profiler, co-run
// workers). glibc returns freed memory at the top of the heap to the kernel
// and serves large blocks with fresh mmaps, so activations allocated for
// every micro-batch keep landing on new pages and page-fault as they are
// written, while the profiler frees and reallocates the same sizes on warm
// pages: the two would not run the same layers at the same speed
// (executor/README.md). Keeping freed memory in the process makes both run
// on warm pages, as a caching allocator (CUDA's, jemalloc's) would.
#pragma once

#include <cstdint>

namespace pipekit {

// Serve blocks up to 32 MiB from the heap, never trim it, and grow it 256 MiB
// at a time. Idempotent; the environment (MALLOC_*_ variables) still wins
// where the user set it, and PIPEKIT_KEEP_HOST_MEMORY=0 leaves glibc as it is
// (for A/B measurements).
void keep_host_memory();

// Grows the kept heap by `bytes` of touched pages (in blocks below the mmap
// threshold, freed at once), so a burst of allocations that comes later, such
// as Adam's moments and the weight versions at an asynchronous stream's first
// STEPs, does not page-fault in the middle of the run. At most 768 MiB: glibc
// trims a free heap top above the 1 GiB trim threshold back to the 256 MiB
// pad. No-op unless keep_host_memory() is in effect.
void prefault_host_memory(std::int64_t bytes);

// Whether an allocation of `bytes` comes from the kept heap (below the 32 MiB
// mmap threshold), i.e. whether prefault_host_memory() can help it. False
// unless keep_host_memory() is in effect.
bool heap_serves(std::int64_t bytes);

// Minor page faults of this process so far (pages touched for the first time).
long minor_page_faults();

}  // namespace pipekit
