#include "executor/thread_cpu.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pipekit {

double other_threads_cpu_ms() {
  const std::string self = std::to_string(static_cast<long>(syscall(SYS_gettid)));
  double ns = 0;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    if (d.path().filename() == self) continue;
    // schedstat: time on a CPU (ns), time waiting to run (ns), time slices.
    std::ifstream in(d.path() / "schedstat");
    double on_cpu = 0;
    if (in >> on_cpu) ns += on_cpu;
  }
  return ns / 1e6;
}

}  // namespace pipekit
