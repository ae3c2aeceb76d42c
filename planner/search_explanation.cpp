#include "planner/search_explanation.h"

#include <fmt/format.h>

#include <map>

#include "core/units.h"

namespace pipekit {
namespace {

std::string recompute_text(const ScheduleSpec& s) {
  if (s.recompute_stages.empty()) return to_string(s.recompute);
  std::string stages;
  int count = 0;
  for (std::size_t i = 0; i < s.recompute_stages.size(); ++i)
    if (s.recompute_stages[i]) {
      stages += fmt::format("{}{}", count++ ? "," : "", i);
    }
  return fmt::format("stages {}", stages);
}

double percent_slower(double a, double best) {
  return best > 0 ? 100.0 * (a - best) / best : 0.0;
}

}  // namespace

std::string describe_candidate(const SearchCandidate& c) {
  const Plan& pl = c.plan;
  const int v = std::max(1, pl.schedule.virtual_stages);
  const std::size_t p = pl.stages.size() / static_cast<std::size_t>(v);
  return fmt::format("{} p={} x{} v={} m={} b={} recompute {}", pl.schedule.kind, p,
                     pl.stages.empty() ? 1 : pl.stages.front().replicas, v, pl.schedule.microbatches,
                     pl.microbatch_size, recompute_text(pl.schedule));
}

std::string explain_search(const SearchResult& r) {
  if (r.ranked.empty()) return {};
  const SearchCandidate& w = r.ranked.front();
  std::string out = fmt::format("why #1 won: {}\n", describe_candidate(w));
  out += fmt::format(
      "  time per sample {:.4f} ms; lower bound {:.4f} ms (compute of the busiest rank, fill and drain), "
      "{:.1f}% above it\n",
      w.time_per_sample_ms, w.lower_bound_ms, percent_slower(w.time_per_sample_ms, w.lower_bound_ms));
  out += fmt::format("  bubble: {:.1f}% of the ranks' time idle\n", 100 * w.bubble_fraction);
  const std::int64_t limit = w.plan.cluster.device_memory_bytes;
  if (limit > 0)
    out += fmt::format("  memory: peak {} of {} per device ({:.0f}%){}\n", format_bytes(w.peak_memory_bytes),
                       format_bytes(static_cast<double>(limit)), 100 * w.peak_memory_bytes / limit,
                       w.fits_memory ? "" : ": DOES NOT FIT");
  else
    out += fmt::format("  memory: peak {} per device, no limit given\n", format_bytes(w.peak_memory_bytes));
  if (w.recompute_ms > 0)
    out += fmt::format("  recompute: {} costs {:.3f} ms of forward per minibatch ({:.1f}% of its compute)\n",
                       recompute_text(w.plan.schedule), w.recompute_ms,
                       w.compute_ms > 0 ? 100 * w.recompute_ms / w.compute_ms : 0.0);
  else
    out += "  recompute: none\n";
  // Best of every other schedule (ranked is sorted: the first seen is the best).
  std::map<std::string, const SearchCandidate*> best;
  for (const SearchCandidate& c : r.ranked) best.emplace(c.plan.schedule.kind, &c);
  if (best.size() > 1 || !r.unsimulated_bound.empty()) out += "  best of each other schedule:\n";
  for (const auto& [kind, c] : best) {
    if (c == &w) continue;
    if (!c->fits_memory)
      out += fmt::format("    {:<12} does not fit (best: {}, peak {})\n", kind, describe_candidate(*c),
                         format_bytes(c->peak_memory_bytes));
    else
      out += fmt::format("    {:<12} +{:.1f}% ({}, bubble {:.1f}%, peak {})\n", kind,
                         percent_slower(c->time_per_sample_ms, w.time_per_sample_ms), describe_candidate(*c),
                         100 * c->bubble_fraction, format_bytes(c->peak_memory_bytes));
  }
  for (const auto& [kind, bound] : r.unsimulated_bound)
    out += fmt::format("    {:<12} at least +{:.1f}% (not simulated: its lower bound is already slower)\n",
                       kind, percent_slower(bound, w.time_per_sample_ms));
  return out;
}

}  // namespace pipekit
