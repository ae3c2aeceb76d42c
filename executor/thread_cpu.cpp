#include "executor/thread_cpu.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pipekit {

std::optional<std::map<std::string, double>> other_threads_cpu_ns() {
  const std::string self = std::to_string(static_cast<long>(syscall(SYS_gettid)));
  std::map<std::string, double> out;
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/task", ec), end;
  if (ec) return std::nullopt;
  bool read_one = false;
  for (; it != end; it.increment(ec)) {
    if (ec) return std::nullopt;
    const std::string tid = it->path().filename();
    // schedstat: time on a CPU (ns), time waiting to run (ns), time slices.
    std::ifstream in(it->path() / "schedstat");
    double on_cpu = 0;
    if (!(in >> on_cpu)) continue;  // the thread ended, or no scheduler statistics
    read_one = true;
    if (tid != self) out[tid] = on_cpu;
  }
  if (!read_one) return std::nullopt;
  return out;
}

double cpu_ms_since(const std::map<std::string, double>& before, const std::map<std::string, double>& now) {
  double ns = 0;
  for (const auto& [tid, t] : now) {
    auto b = before.find(tid);
    ns += t - (b == before.end() ? 0.0 : b->second);
  }
  return ns / 1e6;
}

}  // namespace pipekit
