#include "viz/timeline_summary.h"

#include <algorithm>
#include <cstdlib>

#include "core/timeline_meta.h"

namespace pipekit {

std::vector<Interval> idle_gaps(std::vector<Interval> busy, double span) {
  std::sort(busy.begin(), busy.end(), [](const Interval& a, const Interval& b) { return a.start < b.start; });
  std::vector<Interval> gaps;
  double cursor = 0;
  for (const auto& b : busy) {
    if (b.start > cursor + 1e-9) gaps.push_back({cursor, std::min(b.start, span)});
    cursor = std::max(cursor, b.end);
    if (cursor >= span) break;
  }
  if (span > cursor + 1e-9) gaps.push_back({cursor, span});
  gaps.erase(
      std::remove_if(gaps.begin(), gaps.end(), [](const Interval& g) { return g.end - g.start <= 1e-9; }),
      gaps.end());
  return gaps;
}

namespace {
// A count the report divides by: absent when zero.
std::optional<double> positive(std::optional<double> v) {
  return v && *v > 0 ? v : std::nullopt;
}
}  // namespace

TimelineSummary summarize(const Timeline& t) {
  TimelineSummary s;
  double last = 0;
  for (const auto& e : t.events) last = std::max(last, e.end_ms);
  for (const auto& m : t.memory) last = std::max(last, m.time_ms);
  s.span_ms = std::max(t.step_time_ms, last);
  s.step_time_ms = t.step_time_ms > 0 ? t.step_time_ms : s.span_ms;

  int ranks = std::max(t.num_ranks, 0);
  std::vector<std::vector<Interval>> busy(ranks);
  s.ranks.resize(ranks);
  for (int r = 0; r < ranks; ++r) s.ranks[r].rank = r;
  for (const auto& e : t.events) {
    if (e.stream != Stream::compute || e.rank < 0 || e.rank >= ranks) continue;
    busy[e.rank].push_back({e.start_ms, e.end_ms});
    s.ranks[e.rank].compute_events++;
  }
  double idle_total = 0;
  for (int r = 0; r < ranks; ++r) {
    RankSummary& rs = s.ranks[r];
    rs.bubbles = idle_gaps(busy[r], s.span_ms);
    for (const auto& g : rs.bubbles) rs.idle_ms += g.end - g.start;
    rs.busy_ms = s.span_ms - rs.idle_ms;
    rs.bubble_fraction = s.span_ms > 0 ? rs.idle_ms / s.span_ms : 0;
    idle_total += rs.idle_ms;
  }
  s.bubble_fraction = (ranks > 0 && s.span_ms > 0) ? idle_total / (ranks * s.span_ms) : 0;

  for (const auto& m : t.memory) {
    if (m.rank < 0 || m.rank >= ranks) continue;
    RankSummary& rs = s.ranks[m.rank];
    if (m.total() > rs.peak_memory) {
      rs.peak_memory = m.total();
      rs.peak_time_ms = m.time_ms;
      rs.peak_sample = m;
    }
    s.peak_memory = std::max(s.peak_memory, m.total());
  }

  s.samples_per_step = positive(meta_number(t, RunMeta::samples_per_step));
  if (!s.samples_per_step) s.samples_per_step = positive(meta_number(t, "global_batch_size"));
  s.time_per_minibatch_ms = positive(meta_number(t, RunMeta::time_per_minibatch_ms));
  double per_batch = s.time_per_minibatch_ms ? *s.time_per_minibatch_ms : s.step_time_ms;
  if (s.samples_per_step && per_batch > 0)
    s.throughput_samples_per_s = *s.samples_per_step / (per_batch / 1000.0);
  return s;
}

}  // namespace pipekit
