#include "executor/fault_injection.h"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace pipekit {
namespace {

int env_number(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  try {
    std::size_t used = 0;
    const int n = std::stoi(v, &used);
    if (used == std::string(v).size()) return n;
  } catch (...) {
  }
  throw InputError(name, "", fmt::format("environment variable is not an integer: '{}'", v));
}

}  // namespace

FaultInjection FaultInjection::from_environment() {
  FaultInjection f;
  f.fail_rank = env_number("PIPEKIT_FAIL_RANK", -1);
  f.kill_rank = env_number("PIPEKIT_KILL_RANK", -1);
  f.kill_at_step = std::max(1, env_number("PIPEKIT_KILL_AT_STEP", 1));
  if (const char* v = std::getenv("PIPEKIT_INJECT_INF"); v && *v) {
    const std::string s = v;
    const auto colon = s.find(':');
    try {
      std::size_t a = 0, b = 0;
      f.inject_inf_rank = std::stoi(s.substr(0, colon), &a);
      f.inject_inf_step = std::stoi(s.substr(colon + 1), &b);
      if (colon == std::string::npos || a != colon || b != s.size() - colon - 1 || f.inject_inf_rank < 0 ||
          f.inject_inf_step < 1)
        throw std::invalid_argument(s);
    } catch (...) {
      throw InputError("PIPEKIT_INJECT_INF", "", fmt::format("'{}' is not RANK:STEP (e.g. 1:2)", s));
    }
  }
  if (const char* v = std::getenv("PIPEKIT_KILL_IN_CHECKPOINT"); v && *v)
    if (!write_point_from_string(v, f.kill_in_checkpoint))
      throw InputError("PIPEKIT_KILL_IN_CHECKPOINT", "",
                       fmt::format("'{}' is not one of mid-file, after-file, before-manifest, mid-manifest, "
                                   "before-latest",
                                   v));
  return f;
}

WriteHook FaultInjection::checkpoint_kill(int rank, int step) const {
  if (kill_in_checkpoint == WritePoint::none || kill_rank != rank || kill_at_step != step) return {};
  return [rank, step, point = kill_in_checkpoint](WritePoint p) {
    if (p != point) return;
    std::fprintf(stderr, "pipekit: rank %d killing itself while writing the checkpoint after step %d (%s)\n",
                 rank, step, to_string(p).c_str());
    std::fflush(stderr);
    std::raise(SIGKILL);
  };
}

std::size_t FaultInjection::kill_position(int rank, int step, std::size_t actions,
                                          const std::map<std::size_t, int>& minibatch_end) const {
  if (kill_rank < 0 || kill_rank != rank || kill_in_checkpoint != WritePoint::none) return npos;
  const std::size_t k = static_cast<std::size_t>(kill_at_step);
  if (minibatch_end.empty()) return static_cast<std::size_t>(step + 1) == k ? actions / 2 : npos;
  // One stream: halfway between the ends of minibatches K-1 and K.
  std::size_t lo = 0, hi = actions;
  for (const auto& [pos, done] : minibatch_end) {
    if (static_cast<std::size_t>(done) + 1 == k) lo = pos;
    if (static_cast<std::size_t>(done) == k) hi = pos;
  }
  return (lo + hi) / 2;
}

}  // namespace pipekit
