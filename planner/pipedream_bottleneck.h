// The last (outermost) level of PipeDream's dynamic program solved as a
// bottleneck problem instead of by filling its table A[0][j][m] (states 0..j on
// m + 1 machines; planner/pipedream_dp.h): bisection on the answer T over the
// doubles, each probe a feasibility test.
//
// Contract: the same optimum as the table, bit for bit (both cost every stage
// with planner/pipedream_level.h and the optimum is one of those stage times),
// and a plan that attains it under the same rules: machine counts, memory,
// straight and fewer_machines exactly as the table applies them. Where several
// plans attain the optimum the one returned may differ from the table's.
//
// Why it is exact: A[0][j][m] <= T iff j's first stage alone on m + 1 machines
// is <= T and fits, or (fewer_machines, j > 0) A[0][j][m-1] <= T, or for some
// predecessor k and r machines A[0][k][m-r] <= T, the stage after k up to j
// on r machines is <= T and it fits. So the sets R[j] = {m : A[0][j][m] <= T}
// follow from those of the predecessors, and the optimum is the least T with
// N - 1 in R[S-1].
//
// Why it is fast: for r >= 2 a stage's time (c + a (r-1)/r) / r and its
// transfers' bytes / r fall strictly with r (the step is a factor of at most
// r^3 / ((r+1)^2 (r-1)) < 1, far beyond rounding), and the memory test only gets
// easier with more replicas and with a later end machine m (fewer machines
// downstream). So the replicated transitions from k reach exactly the m from one
// boundary up, found from min R[k] near a closed-form estimate; the one-machine
// transitions shift R[k] by one bit. A probe costs O(sum over states of |preds|)
// stage-time evaluations and word operations. Bisection over the doubles stops
// once lo and hi are within 2^-17 of each other; the stage times between them
// (each stage's times fall by more than that per replica, so one run of r per
// stage) are then collected in one pass and bisected: about 20 probes in all.
#pragma once

#include <vector>

#include "planner/pipedream_level.h"

namespace pipekit::detail {

struct BottleneckPlan {
  double value = kNoPlan;       // NaN: no plan (memory, straight on too many machines)
  std::vector<DpPiece> pieces;  // pipeline order, covering states [0, S)
};

BottleneckPlan solve_last_level(const LevelCosts& costs);

}  // namespace pipekit::detail
