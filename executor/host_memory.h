// Host memory behaviour of processes that train (ranks, the profiler, co-run
// workers). glibc returns freed memory at the top of the heap to the kernel
// and serves large blocks with fresh mmaps, so activations allocated for
// every micro-batch keep landing on new pages and page-fault as they are
// written: a pipeline rank's forwards ran ~10% slower than the same layers in
// the profiler, which frees and reallocates the same sizes (measured on
// gpt-tiny). Keeping freed memory in the process makes both run on warm
// pages, as a caching allocator (CUDA's, jemalloc's) would.
#pragma once

namespace pipekit {

// Serve blocks up to 32 MiB from the heap, never trim it, and grow it 256 MiB
// at a time. Idempotent; the environment (MALLOC_*_ variables) still wins
// where the user set it, and PIPEKIT_KEEP_HOST_MEMORY=0 leaves glibc as it is
// (for A/B measurements).
void keep_host_memory();

}  // namespace pipekit
