#include "planner/schedules/zb_auto.h"

#include <algorithm>
#include <cmath>

#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zb_h1.h"
#include "planner/schedules/zero_bubble_greedy.h"
#include "planner/schedules/zero_bubble_search.h"

namespace pipekit {
namespace {

// Forwards rank r can run before its first input gradient can arrive: one,
// plus as many as fit into the round trip through the later stages.
std::vector<int> estimated_warmups(const ScheduleCostHint& h, int p) {
  std::vector<int> out(p, 1);
  auto at = [](const std::vector<double>& v, int s, double unit) {
    return s < static_cast<int>(v.size()) ? v[s] : unit;
  };
  const bool c = h.has_costs();
  for (int r = 0; r < p; ++r) {
    double trip = 0;
    for (int s = r + 1; s < p; ++s) {
      const double msg = at(h.message_ms, s - 1, 0);
      trip += (c ? at(h.forward_ms, s, 1) : 1) + (c ? at(h.input_grad_ms, s, 1) : 1) + 2 * msg;
    }
    const double f = c ? at(h.forward_ms, r, 1) : 1;
    const double extra = f > 0 ? trip / f : p;
    out[r] = 1 + static_cast<int>(std::ceil(std::min(extra, 4.0 * p) - 1e-9));
  }
  return out;
}

}  // namespace

Schedule generate_zb_auto(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks;
  Schedule s = make_schedule_frame("zb-auto", p, 1, spec.microbatches);
  const ScheduleCostHint& hint = spec.cost_hint;
  check_cost_hint(hint, p, 1, "zb-auto");
  std::vector<int> cap(p);
  for (int r = 0; r < p; ++r) cap[r] = hint.cap(r) > 0 ? hint.cap(r) : p;

  std::vector<ZeroBubbleLimits> cands;
  cands.push_back(zb_h1_limits(p, hint));
  auto with_warmup = [&](auto warmup_of) {
    ZeroBubbleLimits lim;
    lim.reserve_chunks = true;
    for (int r = 0; r < p; ++r) {
      lim.in_flight.push_back(cap[r]);
      const int w = warmup_of(r);
      lim.awaiting_input_grad.push_back(w <= 0 ? 0 : std::clamp(w, 1, cap[r]));
    }
    cands.push_back(std::move(lim));
  };
  with_warmup([&](int r) { return std::min(2 * (p - r) - 1, 2 * p - 1); });  // zb-h2's warm-up
  const std::vector<int> est = estimated_warmups(hint, p);
  for (double a : {0.0, 0.25, 0.5, 0.75, 1.0})
    with_warmup([&](int r) { return (p - r) + static_cast<int>(std::lround(a * (est[r] - (p - r)))); });
  for (int k : {1, 2}) with_warmup([&](int r) { return est[r] + k; });
  with_warmup([](int) { return 0; });  // no warm-up limit: only the memory cap
  fill_best_zero_bubble_order(s, cands, hint);
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
