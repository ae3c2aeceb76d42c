#include "planner/schedules/zb_interleaved.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "planner/schedules/interleaved.h"
#include "planner/schedules/schedule_building.h"
#include "planner/schedules/weight_placement.h"
#include "planner/schedules/zero_bubble_search.h"

namespace pipekit {

Schedule generate_zb_interleaved(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks, v = spec.virtual_stages, m = spec.microbatches;
  if (m < p)
    throw InputError("--microbatches", "",
                     fmt::format("zb-interleaved needs at least as many micro-batches as ranks ({} < {}): "
                                 "like interleaved 1F1B, a micro-batch must go around all {} ranks before "
                                 "the first rank can start its next chunk; use --microbatches {} or more, "
                                 "or --schedule zb-auto",
                                 m, p, p, p));
  const ScheduleCostHint& hint = spec.cost_hint;
  check_cost_hint(hint, p, v, "zb-interleaved");

  // Interleaved 1F1B's forwards and backwards, each backward now an I.
  ScheduleSpec plain = spec;
  plain.recompute = Recompute::never;
  plain.cost_hint = {};
  const Schedule order = generate_interleaved(plain, p);
  Schedule base = make_schedule_frame("zb-interleaved", p, v, m);
  for (int r = 0; r < p; ++r)
    for (const Action& a : order.actions[r]) {
      if (a.type == ActionType::F) base.actions[r].push_back(a);
      if (a.type == ActionType::B) base.actions[r].push_back(Action{a.stage, ActionType::I, a.microbatch});
    }
  std::vector<int> cap(p);
  for (int r = 0; r < p; ++r) {
    const int own = max_awaiting_input_grad(base, r);
    cap[r] = hint.cap(r) > 0 ? hint.cap(r) : own;
    if (cap[r] < own)
      throw InputError("--memory", "",
                       fmt::format("zb-interleaved keeps interleaved 1F1B's forwards, {} chunk-forwards in "
                                   "flight on rank {}, but its memory cap is {}; raise the memory limit, or "
                                   "use --schedule zb-auto, whose warm-up follows the cap",
                                   own, r, cap[r]));
  }

  // W placed greedily or only where it fits, under the measured and under unit
  // costs: the order that replays fastest under the measured costs wins, so it
  // is never slower than the unit-cost order.
  const ZeroBubbleCosts measured = zero_bubble_ticks(hint, p * v), unit;
  double best = std::numeric_limits<double>::infinity();
  Schedule s = base;
  for (const ZeroBubbleCosts* c : {&measured, &unit})
    for (bool fit_only : {false, true}) {
      if (c == &unit && measured.f.empty()) continue;  // same as the measured pass
      Schedule trial = base;
      place_weight_gradients(trial, cap, *c, fit_only);
      const double t = replay_makespan(trial, hint);
      if (t < best) {
        best = t;
        s.actions = std::move(trial.actions);
      }
    }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
