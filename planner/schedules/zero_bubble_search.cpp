#include "planner/schedules/zero_bubble_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.h"

namespace pipekit {

ZeroBubbleCosts zero_bubble_ticks(const ScheduleCostHint& hint, int stages) {
  ZeroBubbleCosts c;
  double top = 0;
  auto widen = [&](const std::vector<double>& v) {
    for (double x : v) top = std::max(top, x);
  };
  widen(hint.forward_ms);
  widen(hint.input_grad_ms);
  widen(hint.weight_grad_ms);
  widen(hint.message_ms);
  if (!hint.has_costs() || top <= 0) return c;
  const double scale = 1e6 / top;
  auto ticks = [&](const std::vector<double>& v, int n) {
    std::vector<std::int64_t> out(static_cast<std::size_t>(std::max(n, 0)), 0);
    for (int k = 0; k < n && k < static_cast<int>(v.size()); ++k) out[k] = std::llround(v[k] * scale);
    return out;
  };
  c.f = ticks(hint.forward_ms, stages);
  c.i = ticks(hint.input_grad_ms, stages);
  c.w = ticks(hint.weight_grad_ms, stages);
  c.message = ticks(hint.message_ms, stages - 1);
  return c;
}

double replay_makespan(const Schedule& s, const ScheduleCostHint& hint) {
  const int P = s.num_ranks, S = s.num_stages, M = s.num_microbatches;
  const bool costs = hint.has_costs();
  auto cost = [&](const std::vector<double>& v, int st, double unit) {
    return costs && st < static_cast<int>(v.size()) ? v[st] : unit;
  };
  auto msg = [&](int st) {  // between st and st + 1
    if (st < 0 || st + 1 >= S || s.stage_to_rank[st] == s.stage_to_rank[st + 1]) return 0.0;
    return st < static_cast<int>(hint.message_ms.size()) ? hint.message_ms[st] : 0.0;
  };
  auto at = [&](int st, int mb) { return static_cast<std::size_t>(st) * M + mb; };
  std::vector<double> endF(static_cast<std::size_t>(S) * M, -1), endI(endF);
  std::vector<std::size_t> pc(P, 0);
  std::vector<double> free(P, 0);
  double makespan = 0;
  bool moved = true;
  while (moved) {
    moved = false;
    for (int r = 0; r < P; ++r) {
      while (pc[r] < s.actions[r].size()) {
        const Action& a = s.actions[r][pc[r]];
        double ready = 0, dur = 0;
        switch (a.type) {
          case ActionType::F:
            if (a.stage > 0) {
              ready = endF[at(a.stage - 1, a.microbatch)];
              if (ready >= 0) ready += msg(a.stage - 1);
            }
            dur = cost(hint.forward_ms, a.stage, 1);
            break;
          case ActionType::I:
          case ActionType::B:
            ready = a.stage + 1 < S ? endI[at(a.stage + 1, a.microbatch)] : endF[at(a.stage, a.microbatch)];
            if (ready >= 0 && a.stage + 1 < S) ready += msg(a.stage);
            dur = cost(hint.input_grad_ms, a.stage, 1);
            if (a.type == ActionType::B) dur += cost(hint.weight_grad_ms, a.stage, 1);
            break;
          case ActionType::W:
            dur = cost(hint.weight_grad_ms, a.stage, 1);
            break;
          default:
            break;  // step-level actions: free here, as in the simulator's default
        }
        if (ready < 0) break;
        const double start = std::max(free[r], ready);
        free[r] = start + dur;
        if (a.type == ActionType::F) endF[at(a.stage, a.microbatch)] = free[r];
        if (a.type == ActionType::I || a.type == ActionType::B) endI[at(a.stage, a.microbatch)] = free[r];
        makespan = std::max(makespan, free[r]);
        ++pc[r];
        moved = true;
      }
    }
  }
  for (int r = 0; r < P; ++r)
    if (pc[r] < s.actions[r].size()) throw std::logic_error("zero-bubble replay: the order cannot finish");
  return makespan;
}

int max_pending_backward(const Schedule& s, int rank) {
  int cur = 0, best = 0;
  for (const Action& a : s.actions[rank]) {
    if (a.type == ActionType::F) best = std::max(best, ++cur);
    if (a.type == ActionType::W || a.type == ActionType::B) --cur;
  }
  return best;
}

void fill_best_zero_bubble_order(Schedule& frame, const std::vector<ZeroBubbleLimits>& candidates,
                                 const ScheduleCostHint& hint) {
  const ZeroBubbleCosts measured = zero_bubble_ticks(hint, frame.num_stages);
  const ZeroBubbleCosts unit;
  const bool has_costs = !measured.f.empty();
  double best = std::numeric_limits<double>::infinity();
  std::vector<std::vector<Action>> best_actions;
  Schedule trial = frame;
  for (const ZeroBubbleLimits& lim : candidates) {
    for (int pass = 0; pass < (has_costs ? 2 : 1); ++pass) {
      try {
        fill_zero_bubble_order(trial, lim, pass == 0 ? measured : unit);
      } catch (const std::logic_error&) {
        continue;  // these limits cannot finish under these costs; others can
      }
      const double t = replay_makespan(trial, hint);
      if (t < best) {
        best = t;
        best_actions = trial.actions;
      }
    }
  }
  if (best_actions.empty())
    throw std::logic_error("zero-bubble search: no candidate order can finish under its limits");
  frame.actions = std::move(best_actions);
}

void check_cost_hint(const ScheduleCostHint& hint, int ranks, int chunks, std::string_view kind) {
  validate(hint, ranks * chunks, ranks, "cost_hint");
  for (int r = 0; r < ranks; ++r) {
    const int cap = hint.cap(r);
    if (cap > 0 && cap < chunks)
      throw InputError(
          "--memory", "",
          fmt::format("{}: rank {} may hold only {} pending backward pass(es), but one micro-batch there "
                      "runs {} chunk forwards before its first weight gradient; raise the memory limit "
                      "(or the cap) to at least {}",
                      kind, r, cap, chunks, chunks));
  }
}

int capped(const ScheduleCostHint& hint, int rank, int own) {
  const int cap = hint.cap(rank);
  return cap > 0 ? std::min(cap, own) : own;
}

}  // namespace pipekit
