// Processor time of a process's threads other than the calling one. On a
// CPU rank the calling thread computes; the others are Gloo's transport loop
// (posting, copying and delivering messages), the store's client and
// LibTorch's idle workers. Their time in a step is what messaging cost the
// rank's processor beside its own posting: the measured counterpart of the
// simulator's per-message overhead (SimOptions::message_overhead_ms).
#pragma once

namespace pipekit {

// Milliseconds on a CPU of every thread of this process except the caller,
// summed from /proc/self/task/*/schedstat (0 where that is unreadable, e.g.
// not Linux). Threads that ended are not counted.
double other_threads_cpu_ms();

}  // namespace pipekit
