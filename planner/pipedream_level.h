// One level of PipeDream's dynamic program (planner/pipedream_dp.h): its table
// and the cost of a stage at that level. Internal to the planner: the table DP
// (pipedream_dp.cpp) and the bottleneck search of the last level
// (pipedream_bottleneck.h) cost stages with these same functions, so that both
// compute every stage time bit for bit alike and their optima compare exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "planner/antichain_dag.h"
#include "planner/pipedream_dp.h"

namespace pipekit::detail {

inline constexpr double kNoPlan = std::numeric_limits<double>::quiet_NaN();

struct DpEntry {
  double v = kNoPlan;         // best time; NaN = no solution (PipeDream's None)
  int k = -1;                 // last split: the previous part ends at state k
  std::int16_t rest = -1;     // machines index (m) of the previous part
  std::int16_t machines = 0;  // machines of the last stage
  bool ok() const { return !std::isnan(v); }
};

// One level's table A[i][j][m]: states i..j on m+1 machines; only row 0 at the
// final level.
struct DpTable {
  int rows = 0, S = 0, N = 0;
  std::vector<DpEntry> a;
  DpEntry& at(int i, int j, int m) { return a[(static_cast<std::size_t>(i) * S + j) * N + m]; }
  const DpEntry& at(int i, int j, int m) const { return a[(static_cast<std::size_t>(i) * S + j) * N + m]; }
};

// A stage of one level: states [start, end) on `machines` machines of the level.
struct DpPiece {
  int start, end, machines;
};

// Stage times and the memory test at one level. Machine indices m are the
// table's: the stage in question ends on machine m + 1 of the level's N.
class LevelCosts {
 public:
  LevelCosts(const DpStates& s, const PipeDreamOptions& o, int level, double within, const DpTable* prev)
      : s_(s),
        o_(o),
        level_(level),
        N_(o.machines[level]),
        S_(s.size()),
        bw_(o.bandwidths[level]),
        within_(within),
        prev_(prev),
        transfers_(o.count_transfers && o.bandwidths[level] > 0),
        ratio_(o.compression_ratio > 0 ? o.compression_ratio : 1.0) {}

  int machines() const { return N_; }
  int states() const { return S_; }
  const DpStates& dp_states() const { return s_; }
  const PipeDreamOptions& options() const { return o_; }

  // State-range sums of the segment after state i-1 up to state j (i == 0: from the start).
  static double seg(const std::vector<double>& x, int i, int j) { return i == 0 ? x[j] : x[j] - x[i - 1]; }

  // The segment's time on one machine of this level: its compute at the
  // innermost level, the level below's optimum on all its machines above. NaN: none.
  double segment(int i, int j) const {
    if (i > 0 && j < i) return kNoPlan;
    if (!prev_) return seg(s_.compute_s, i, j);
    return prev_->at(i, j, prev_->N - 1).v;
  }

  double allreduce(double params, int r, bool single_stage) const {
    if (bw_ <= 0 || r <= 1) return 0;
    double t = 4.0 * (r - 1) * params / (bw_ * r);
    if (o_.cost_model == CostModel::pipedream && single_stage) t /= within_;
    return t;
  }

  // The segment i..j as the only stage, on machines 0..m (m + 1 of them); NaN: none.
  double single_stage(int i, int j, int m) const {
    const double c = segment(i, j);
    if (std::isnan(c)) return kNoPlan;
    return (c + allreduce(seg(s_.param_bytes, i, j), m + 1, true)) / (m + 1);
  }

  // The stage after state k up to state j on mp machines, after other stages:
  // given c = segment(k + 1, j) and its parameter bytes.
  double last_stage(double c, double params, int k, int j, int mp) const {
    double t = (c + allreduce(params, mp, false)) / mp;
    if (transfers_) {
      t = std::max(t, 2.0 * s_.output_bytes[k] / (bw_ * mp) / ratio_);
      if (j < S_ - 1) t = std::max(t, 2.0 * s_.output_bytes[j] / (bw_ * mp) / ratio_);
    }
    return t;
  }

  // PipeDream: stash > memory rejects; pipekit: per-device memory at the
  // innermost level. The stage i..j on r machines ends on machine m + 1.
  bool fits(int m, int r, int i, int j) const {
    if (!o_.memory_bytes) return true;
    double need;
    if (o_.cost_model == CostModel::pipedream) {
      need = ceil_div(N_ - (m + 1), r) * (seg(s_.activation_bytes, i, j) + seg(s_.param_bytes, i, j));
    } else {
      if (level_ > 0) return true;
      need = seg(s_.param_bytes, i, j) * (2.0 + o_.optimizer_factor) +
             seg(s_.saved_bytes, i, j) * ceil_div(N_ - (m + 1) + r, r);
    }
    return need <= *o_.memory_bytes;
  }

  // Where, roughly, `last_stage` falls to T as the replicas r grow: from
  // (c + a (r - 1) / r) / r <= T with a = 4 params / bandwidth, and the
  // transfers' bytes / r <= T. Only a starting point for an exact search.
  // k < 0: a first stage (no transfers). An integer in [1, 2^30].
  int replicas_estimate(double c, double params, int k, int j, double T) const {
    const double a = bw_ > 0 ? 4.0 * params / bw_ : 0.0;
    const double b = c + a;
    const double disc = b * b - 4.0 * T * a;
    double r = disc > 0 ? (b + std::sqrt(disc)) / (2.0 * T) : 1.0;
    if (transfers_ && k >= 0) {
      double moved = 2.0 * s_.output_bytes[k] / bw_ / ratio_;
      if (j < S_ - 1) moved = std::max(moved, 2.0 * s_.output_bytes[j] / bw_ / ratio_);
      r = std::max(r, moved / T);
    }
    return r < 1 ? 1 : r < 0x1p30 ? static_cast<int>(std::ceil(r)) : 1 << 30;
  }

  static double ceil_div(double a, double b) { return std::ceil(a / b); }

 private:
  const DpStates& s_;
  const PipeDreamOptions& o_;
  int level_, N_, S_;
  double bw_, within_;
  const DpTable* prev_;
  bool transfers_;
  double ratio_;
};

}  // namespace pipekit::detail
