#include "executor/thread_cpu.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pipekit {

long this_thread_id() {
  return static_cast<long>(syscall(SYS_gettid));
}

std::optional<std::map<long, double>> other_threads_cpu_ns() {
  const long self = this_thread_id();
  std::map<long, double> out;
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/task", ec), end;
  if (ec) return std::nullopt;
  bool read_one = false;
  for (; it != end; it.increment(ec)) {
    if (ec) return std::nullopt;
    // schedstat: time on a CPU (ns), time waiting to run (ns), time slices.
    std::ifstream in(it->path() / "schedstat");
    double on_cpu = 0;
    if (!(in >> on_cpu)) continue;  // the thread ended, or no scheduler statistics
    read_one = true;
    const long tid = std::stol(it->path().filename().string());
    if (tid != self) out[tid] = on_cpu;
  }
  if (!read_one) return std::nullopt;
  return out;
}

double cpu_ms_since(const std::map<long, double>& before, const std::map<long, double>& now) {
  double ns = 0;
  for (const auto& [tid, t] : now) {
    auto b = before.find(tid);
    ns += t - (b == before.end() ? 0.0 : b->second);
  }
  return ns / 1e6;
}

}  // namespace pipekit
