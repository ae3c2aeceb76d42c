#include "core/timeline_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/timeline_meta.h"
#include "core/units.h"

namespace pipekit {
namespace {

struct RankClock {
  std::string id;
  std::int64_t origin_ns = 0;
};

// The clock of the part's ranks (all ranks of one part share it), if recorded.
std::optional<RankClock> part_clock(const Timeline& t) {
  for (const auto& [k, v] : t.meta) {
    if (k.rfind(meta_prefix(RankMeta::clock), 0) != 0) continue;
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

// The part's per-step spans, if recorded.
std::optional<std::vector<RankStepSpan>> part_spans(const Timeline& t) {
  for (const auto& [k, v] : t.meta) {
    if (k.rfind(meta_prefix(RankMeta::step_spans), 0) != 0) continue;
    std::vector<RankStepSpan> out;
    std::istringstream in(v);
    for (std::string tok; in >> tok;) {
      RankStepSpan sp;
      const auto colon = tok.find(':');
      const char* first = tok.data();
      const char* mid = colon == std::string::npos ? tok.data() + tok.size() : tok.data() + colon;
      const auto origin = std::from_chars(first, mid, sp.origin_ns);
      const std::optional<double> end =
          colon == std::string::npos ? std::nullopt : parse_number(std::string_view(tok).substr(colon + 1));
      if (origin.ec != std::errc{} || origin.ptr != mid || !end)
        throw InputError("timeline", "$.meta." + k,
                         fmt::format("\"{}\" is not \"<origin ns>:<end ms>\" (a rank's step span; write "
                                     "the timeline with this pipekit)",
                                     tok));
      sp.end_ms = *end;
      out.push_back(sp);
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::string format_step_spans(const std::vector<RankStepSpan>& spans) {
  std::string out;
  for (const auto& sp : spans)
    out += fmt::format("{}{}:{:.6f}", out.empty() ? "" : " ", sp.origin_ns, sp.end_ms);
  return out;
}

std::vector<double> step_times_ms(const Timeline& merged) {
  std::vector<double> out;
  const std::optional<std::string> text = get_meta(merged, RunMeta::step_times_ms);
  if (!text) return out;
  std::istringstream in(*text);
  for (std::string tok; in >> tok;) {
    const std::optional<double> v = parse_number(tok);
    if (!v)
      throw InputError("timeline", "$.meta.step_times_ms",
                       fmt::format("\"{}\" is not a step time in ms (the list is \"t1 t2 ...\")", tok));
    out.push_back(*v);
  }
  return out;
}

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
  set_meta(out, RunMeta::clock, one_clock ? "one" : "per-rank");
  // Every step's span, on the same rules as the recorded step's.
  std::vector<std::vector<RankStepSpan>> spans;
  for (const auto& p : parts)
    if (auto sp = part_spans(p)) spans.push_back(std::move(*sp));
  const bool all = spans.size() == parts.size() && !spans.empty() &&
                   std::all_of(spans.begin(), spans.end(),
                               [&](const auto& v) { return v.size() == spans[0].size() && !v.empty(); });
  out.meta.erase("step_times_ms");
  if (all) {
    std::string times;
    for (std::size_t k = 0; k < spans[0].size(); ++k) {
      std::int64_t zero = spans[0][k].origin_ns;
      for (std::size_t i = 0; i < parts.size(); ++i)
        if (clocks[0] && clocks[i] && clocks[i]->id == clocks[0]->id)
          zero = std::min(zero, spans[i][k].origin_ns);
      double end = 0;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        const bool same = clocks[0] && clocks[i] && clocks[i]->id == clocks[0]->id;
        const double sh = same ? static_cast<double>(spans[i][k].origin_ns - zero) / 1e6 : 0.0;
        end = std::max(end, spans[i][k].end_ms + sh);
      }
      times += fmt::format("{}{:.6f}", times.empty() ? "" : " ", end);
    }
    set_meta(out, RunMeta::step_times_ms, times);
  }
  return out;
}

}  // namespace pipekit
