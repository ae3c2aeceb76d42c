#include "core/timeline.h"

#include <fmt/format.h>
#include <cmath>

#include "core/error.h"

namespace pipekit {

std::string_view to_string(Stream s) {
  switch (s) {
    case Stream::compute:
      return "compute";
    case Stream::send:
      return "send";
    case Stream::recv:
      return "recv";
  }
  return "compute";
}

bool stream_from_string(std::string_view s, Stream& out) {
  if (s == "compute")
    out = Stream::compute;
  else if (s == "send")
    out = Stream::send;
  else if (s == "recv")
    out = Stream::recv;
  else
    return false;
  return true;
}

void validate(const Timeline& t, const std::string& source) {
  if (t.num_ranks < 1) throw InputError(source, "$.num_ranks", "a timeline needs at least one rank");
  if (t.num_ranks > (1 << 20))
    throw InputError(source, "$.num_ranks", "more than 1048576 ranks; check the file");
  if (t.num_stages < 0 || t.num_stages > (1 << 20) || t.num_microbatches < 0 ||
      t.num_microbatches > (1 << 24) || t.virtual_stages < 1 || t.virtual_stages > (1 << 16))
    throw InputError(source, "$", "num_stages, num_microbatches or virtual_stages is out of range");
  if (!std::isfinite(t.step_time_ms) || t.step_time_ms < 0)
    throw InputError(source, "$.step_time_ms", "must be finite and >= 0");
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    std::string where = fmt::format("$.events[{}]", i);
    if (e.rank < 0 || e.rank >= t.num_ranks)
      throw InputError(source, where, fmt::format("rank {} is outside 0..{}", e.rank, t.num_ranks - 1));
    if (!std::isfinite(e.start_ms) || !std::isfinite(e.end_ms) || e.start_ms < 0 || e.end_ms < e.start_ms)
      throw InputError(
          source, where,
          fmt::format("times [{}, {}] are invalid; need 0 <= start <= end", e.start_ms, e.end_ms));
    if (e.work_ms != -1 && !(std::isfinite(e.work_ms) && e.work_ms >= 0))
      throw InputError(source, where + ".work_ms", "must be a finite number of ms >= 0 (or absent)");
  }
  for (std::size_t i = 0; i < t.memory.size(); ++i) {
    const auto& m = t.memory[i];
    std::string where = fmt::format("$.memory[{}]", i);
    if (m.rank < 0 || m.rank >= t.num_ranks)
      throw InputError(source, where, fmt::format("rank {} is outside 0..{}", m.rank, t.num_ranks - 1));
    if (!std::isfinite(m.time_ms) || m.time_ms < 0) throw InputError(source, where, "time_ms must be >= 0");
    if (m.weights < 0 || m.master < 0 || m.gradients < 0 || m.optimizer < 0 || m.activations < 0 ||
        m.buffers < 0)
      throw InputError(source, where, "memory terms must be >= 0 bytes");
  }
}

}  // namespace pipekit
