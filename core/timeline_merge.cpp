#include "core/timeline_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "core/error.h"

namespace pipekit {
namespace {

struct RankClock {
  std::string id;
  std::int64_t origin_ns = 0;
};

// The clock of the part's ranks (all ranks of one part share it), if recorded.
std::optional<RankClock> part_clock(const Timeline& t) {
  for (const auto& [k, v] : t.meta) {
    if (k.rfind("clock.rank", 0) != 0) continue;
    std::istringstream in(v);
    RankClock c;
    if (!(in >> c.id >> c.origin_ns))
      throw InputError("timeline", "$.meta." + k,
                       fmt::format("\"{}\" is not \"<clock id> <origin ns>\" (a rank's clock record; "
                                   "write the timeline with this pipekit)",
                                   v));
    return c;
  }
  return std::nullopt;
}

}  // namespace

std::string format_rank_clock(const std::string& clock_id, std::int64_t origin_ns) {
  return fmt::format("{} {}", clock_id, origin_ns);
}

Timeline merge_rank_timelines(std::vector<Timeline> parts) {
  if (parts.empty()) return Timeline{};
  std::vector<std::optional<RankClock>> clocks;
  for (const auto& p : parts) clocks.push_back(part_clock(p));
  // Shift (ms) of each part onto the common origin; parts on another clock stay.
  std::vector<double> shift(parts.size(), 0.0);
  bool one_clock = clocks[0].has_value();
  if (clocks[0]) {
    std::int64_t zero = clocks[0]->origin_ns;
    for (const auto& c : clocks)
      if (c && c->id == clocks[0]->id) zero = std::min(zero, c->origin_ns);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (clocks[i] && clocks[i]->id == clocks[0]->id)
        shift[i] = static_cast<double>(clocks[i]->origin_ns - zero) / 1e6;
      else
        one_clock = false;
    }
  }
  Timeline out = parts[0];  // the step's description (schedule, counts, limits) is rank 0's
  out.events.clear();
  out.memory.clear();
  out.step_time_ms = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    Timeline& p = parts[i];
    for (auto& e : p.events) {
      e.start_ms += shift[i];
      e.end_ms += shift[i];
      out.events.push_back(e);
    }
    for (auto& m : p.memory) {
      m.time_ms += shift[i];
      out.memory.push_back(m);
    }
    out.step_time_ms = std::max(out.step_time_ms, p.step_time_ms + shift[i]);
    for (auto& [k, v] : p.meta) out.meta[k] = v;
  }
  out.meta["clock"] = one_clock ? "one" : "per-rank";
  return out;
}

}  // namespace pipekit
