// Processor time of a process's threads other than the calling one, over an
// interval. On a CPU rank with one compute thread (--threads 1) the calling
// thread computes and the others are Gloo's transport loop (posting, copying
// and delivering messages), the store's client and LibTorch's idle workers:
// their time is what messaging cost the rank's processor beside its own
// posting, the measured counterpart of the simulator's per-message overhead
// (SimOptions::message_overhead_ms). With more compute threads, or NCCL's
// polling threads on CUDA, it measures those too, so ranks record it only for
// one-thread CPU runs.
#pragma once

#include <map>
#include <optional>

namespace pipekit {

// The calling thread's kernel id (the names in /proc/self/task).
long this_thread_id();

// Time on a CPU (ns) of each thread of this process but the caller, by thread
// id, from /proc/self/task/*/schedstat; nullopt where that cannot be read
// (not Linux, a kernel without scheduler statistics).
std::optional<std::map<long, double>> other_threads_cpu_ns();

// Milliseconds the threads in `now` ran since `before`: per thread, so a
// thread that started in between counts from 0 and one that ended is left out.
double cpu_ms_since(const std::map<long, double>& before, const std::map<long, double>& now);

}  // namespace pipekit
