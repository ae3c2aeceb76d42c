#include "planner/schedules/interleaved.h"

#include <fmt/format.h>
#include <algorithm>

#include "core/error.h"
#include "planner/schedules/one_f_one_b.h"
#include "planner/schedules/schedule_building.h"

namespace pipekit {
namespace {

// The rank's work in group order; `reverse_chunks` for the backward order.
std::vector<StageMicrobatch> group_order(int rank, int p, int v, int m, bool reverse_chunks) {
  std::vector<StageMicrobatch> out;
  out.reserve(static_cast<std::size_t>(m) * v);
  for (int first = 0; first < m; first += p) {
    int last = std::min(first + p, m);
    for (int c = 0; c < v; ++c) {
      int chunk = reverse_chunks ? v - 1 - c : c;
      for (int mb = first; mb < last; ++mb) out.push_back(StageMicrobatch{chunk * p + rank, mb});
    }
  }
  return out;
}

}  // namespace

Schedule generate_interleaved(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks, v = spec.virtual_stages, m = spec.microbatches;
  if (m < p)
    throw InputError("--microbatches", "",
                     fmt::format("schedule 'interleaved' needs at least as many micro-batches as "
                                 "ranks ({} < {}): a micro-batch must go around all {} ranks "
                                 "before the first rank can start its next chunk, so with fewer "
                                 "micro-batches every rank waits at each chunk boundary; use "
                                 "--microbatches {} or more, or --schedule 1f1b",
                                 m, p, p, p));
  Schedule s = make_schedule_frame("interleaved", p, v, m);
  // Plan as if m were a multiple of p, then drop the padding micro-batches:
  // removing whole micro-batches keeps a deadlock-free order deadlock-free,
  // whereas a short last group with the usual warm-up can deadlock (v >= 3).
  const int padded = (m + p - 1) / p * p;
  std::vector<Action> full;
  for (int r = 0; r < p; ++r) {
    auto fwd = group_order(r, p, v, padded, false);
    auto bwd = group_order(r, p, v, padded, true);
    int warmup = v == 1 ? one_f_one_b_warmup(r, p, padded) : (p - r - 1) * 2 + (v - 1) * p;
    warmup = std::min(warmup, padded * v);
    full.clear();
    emit_one_f_one_b(full, fwd, bwd, warmup);
    auto& list = s.actions[r];
    list.reserve(2 * static_cast<std::size_t>(m) * v + v);
    for (const Action& a : full)
      if (a.microbatch < m) list.push_back(a);
  }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
