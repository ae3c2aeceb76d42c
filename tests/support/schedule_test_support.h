// Helpers shared by the schedule tests: generation shortcuts, in-flight
// counting along a rank's list, and a tiny timing replay (per-action costs, no
// communication time) used to check the bubble formulas independently of the
// simulator library.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "core/schedule.h"
#include "planner/schedule_generator.h"
#include "tests/support/make_schedule.h"

namespace pipekit::test {

// Largest number of micro-batches of `stage` whose forward ran and whose
// release action (B, or W when `until_w`; I when !until_w for split backward)
// has not, walking the owning rank's list.
inline int max_in_flight(const Schedule& s, int stage, bool until_w = true) {
  int cur = 0, best = 0;
  for (const Action& a : s.actions[s.stage_to_rank[stage]]) {
    if (a.stage != stage) continue;
    if (a.type == ActionType::F) best = std::max(best, ++cur);
    if (a.type == ActionType::B || (until_w ? a.type == ActionType::W : a.type == ActionType::I)) --cur;
  }
  return best;
}

// Same, summed over all stages of a rank (in chunk units).
inline int max_rank_in_flight(const Schedule& s, int rank) {
  int cur = 0, best = 0;
  for (const Action& a : s.actions[rank]) {
    if (a.type == ActionType::F) best = std::max(best, ++cur);
    if (a.type == ActionType::B || a.type == ActionType::W) --cur;
  }
  return best;
}

struct Costs {
  std::int64_t f = 1, b = 2, i = 1, w = 1, r = 0;
};

struct Replay {
  std::int64_t makespan = 0;
  std::vector<std::int64_t> first_start, last_end, busy;
  std::int64_t span_idle(int r) const { return last_end[r] - first_start[r] - busy[r]; }
};

// In-order execution of an unlowered schedule: an action starts when its rank
// is free and F(s-1,mb) (for F) or the backward of (s+1,mb) (for B/I) ended.
// Step-level actions cost nothing. Throws if the schedule cannot finish.
inline Replay replay(const Schedule& s, const Costs& c) {
  const int P = s.num_ranks, S = s.num_stages, M = s.num_microbatches;
  auto at = [&](int st, int mb) { return static_cast<std::size_t>(st) * M + mb; };
  std::vector<std::int64_t> endF(static_cast<std::size_t>(S) * M, -1), endBwd(endF);
  Replay out;
  out.first_start.assign(P, -1);
  out.last_end.assign(P, 0);
  out.busy.assign(P, 0);
  std::vector<std::size_t> pc(P, 0);
  std::vector<std::int64_t> free(P, 0);
  bool moved = true;
  while (moved) {
    moved = false;
    for (int r = 0; r < P; ++r) {
      while (pc[r] < s.actions[r].size()) {
        const Action& a = s.actions[r][pc[r]];
        std::int64_t ready = 0, cost = 0;
        if (a.type == ActionType::F) {
          if (a.stage > 0) ready = endF[at(a.stage - 1, a.microbatch)];
          cost = c.f;
        } else if (a.type == ActionType::B || a.type == ActionType::I) {
          ready = a.stage + 1 < S ? endBwd[at(a.stage + 1, a.microbatch)] : endF[at(a.stage, a.microbatch)];
          cost = a.type == ActionType::B ? c.b : c.i;
        } else if (a.type == ActionType::W) {
          cost = c.w;
        } else if (a.type == ActionType::R) {
          cost = c.r;
        }
        if (ready < 0) break;
        std::int64_t start = std::max(free[r], ready);
        if (is_compute(a.type) && out.first_start[r] < 0) out.first_start[r] = start;
        free[r] = start + cost;
        if (is_compute(a.type)) {
          out.busy[r] += cost;
          out.last_end[r] = free[r];
        }
        if (a.type == ActionType::F) endF[at(a.stage, a.microbatch)] = free[r];
        if (a.type == ActionType::B || a.type == ActionType::I) endBwd[at(a.stage, a.microbatch)] = free[r];
        ++pc[r];
        moved = true;
      }
    }
  }
  for (int r = 0; r < P; ++r)
    if (pc[r] < s.actions[r].size()) throw std::runtime_error("replay: schedule cannot finish");
  for (int r = 0; r < P; ++r) out.makespan = std::max(out.makespan, free[r]);
  return out;
}

}  // namespace pipekit::test
