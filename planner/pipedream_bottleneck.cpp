#include "planner/pipedream_bottleneck.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

namespace pipekit::detail {
namespace {

// The least x in [lo, hi] with pred(x), pred monotone (false then true); hi + 1
// if none. Starts near `guess` and gallops, so a good guess costs two or three
// calls.
template <class Pred>
int first_true(int lo, int hi, int guess, const Pred& pred) {
  if (lo > hi) return hi + 1;
  guess = std::clamp(guess, lo, hi);
  int a, b;  // pred(a - 1) false (or a == lo), pred(b) true (or b == hi + 1)
  if (pred(guess)) {
    b = guess;
    int step = 1;
    a = guess - 1;
    while (a >= lo && pred(a)) {
      b = a;
      step *= 2;
      a = b - step;
    }
    a = std::max(a + 1, lo);
  } else {
    a = guess + 1;
    int step = 1;
    b = guess + 1;
    while (b <= hi && !pred(b)) {
      a = b + 1;
      step *= 2;
      b = a + step - 1;
    }
    b = std::min(b, hi + 1);
  }
  while (a < b) {
    const int mid = a + (b - a) / 2;
    if (pred(mid))
      b = mid;
    else
      a = mid + 1;
  }
  return a;
}

// Doubles in order as unsigned integers, for bisection over every double.
std::uint64_t key(double x) {
  const auto u = std::bit_cast<std::uint64_t>(x);
  return (u >> 63) ? ~u : u | (std::uint64_t{1} << 63);
}
double from_key(std::uint64_t k) {
  return std::bit_cast<double>((k >> 63) ? k & ~(std::uint64_t{1} << 63) : ~k);
}

class Bottleneck {
 public:
  explicit Bottleneck(const LevelCosts& c)
      : c_(c),
        s_(c.dp_states()),
        straight_(c.options().straight),
        fewer_(c.options().fewer_machines),
        memory_(c.options().memory_bytes.has_value()),
        S_(c.states()),
        N_(c.machines()),
        W_((N_ + 63) / 64),
        bits_(static_cast<std::size_t>(S_) * W_),
        low_(S_, -1) {
    tail_ = N_ % 64 ? (std::uint64_t{1} << (N_ % 64)) - 1 : ~std::uint64_t{0};
  }

  // Fills R[j] = {m : A[0][j][m] <= T} for every state; true if the whole
  // model fits on all N machines within T.
  bool feasible(double T) {
    for (int j = 0; j < S_; ++j) {
      std::uint64_t* row = this->row(j);
      std::fill(row, row + W_, 0);
      if (c_.fits(0, 1, 0, j) && c_.single_stage(0, j, 0) <= T) row[0] |= 1;
      if (!straight_) {
        // One stage on m + 1 >= 2 machines: faster and fitting better as m grows.
        const double c = c_.segment(0, j);
        if (!std::isnan(c)) {
          const double p = LevelCosts::seg(s_.param_bytes, 0, j);
          const int guess = c_.replicas_estimate(c, p, -1, j, T) - 1;
          set_from(row, first_true(1, N_ - 1, guess, [&](int m) {
                     return c_.single_stage(0, j, m) <= T && c_.fits(m, m + 1, 0, j);
                   }));
        }
      }
      if (j > 0) for_preds(j, [&](int k) { add_transitions(k, j, T, row); });
      if (fewer_ && j > 0) {
        const int l = lowest(row);
        if (l >= 0) set_from(row, l);
      }
      low_[j] = lowest(row);
    }
    return test(S_ - 1, N_ - 1);
  }

  // A plan from the sets of the last feasible(T): every stage <= T. Returns its
  // value, the slowest stage's time.
  double plan(double T, std::vector<DpPiece>& out) const {
    out.clear();
    double value = -std::numeric_limits<double>::infinity();
    int j = S_ - 1, m = N_ - 1;
    for (;;) {
      if (m == 0 || !straight_) {
        const double t = c_.single_stage(0, j, m);
        if (t <= T && c_.fits(m, m + 1, 0, j)) {
          out.push_back({0, j + 1, m + 1});
          value = std::max(value, t);
          break;
        }
      }
      if (fewer_ && j > 0 && m > 0 && test(j, m - 1)) {
        --m;  // an idle machine
        continue;
      }
      int pick_k = -1, pick_r = 0;
      double pick_t = 0;
      for_preds(j, [&](int k) {
        if (pick_k >= 0 || low_[k] < 0 || low_[k] > m - 1) return;
        const double c = c_.segment(k + 1, j);
        if (std::isnan(c)) return;
        const double p = LevelCosts::seg(s_.param_bytes, k + 1, j);
        double t = c_.last_stage(c, p, k, j, 1);
        if (test(k, m - 1) && t <= T && c_.fits(m, 1, k + 1, j)) {
          pick_k = k, pick_r = 1, pick_t = t;
          return;
        }
        if (straight_) return;
        // At this m a stage fits and is fast enough from some r up; the
        // previous part then needs a machine count in R[k] at or below m - r.
        const int rmax = m - low_[k];
        const int guess = c_.replicas_estimate(c, p, k, j, T);
        const int r0 = first_true(2, rmax, guess, [&](int r) {
          return c_.last_stage(c, p, k, j, r) <= T && c_.fits(m, r, k + 1, j);
        });
        if (r0 > rmax) return;
        const int before = highest_at_most(k, m - r0);
        pick_k = k, pick_r = m - before;
        pick_t = c_.last_stage(c, p, k, j, pick_r);
      });
      // feasible(T) put m in R[j] by one of the three rules above.
      out.push_back({pick_k + 1, j + 1, pick_r});
      value = std::max(value, pick_t);
      j = pick_k;
      m -= pick_r;
    }
    std::reverse(out.begin(), out.end());
    return value;
  }

  // Every stage time in (lo, hi] the level can produce, memory aside: the
  // optimum lies among them when lo has no plan and hi has one. Times fall with
  // r >= 2 machines, so each stage's times in the window are one run of r.
  void window(double lo, double hi, std::vector<double>& out) const {
    auto run = [&](int from, int guess_hi, int guess_lo, const auto& time) {
      const int a = first_true(from, N_ - 1, guess_hi, [&](int r) { return time(r) <= hi; });
      const int b = first_true(a, N_ - 1, guess_lo, [&](int r) { return time(r) <= lo; });
      for (int r = a; r < b; ++r) out.push_back(time(r));
    };
    auto keep = [&](double v) {
      if (v > lo && v <= hi) out.push_back(v);
    };
    for (int j = 0; j < S_; ++j) {
      keep(c_.single_stage(0, j, 0));
      const double c0 = c_.segment(0, j);
      if (!straight_ && !std::isnan(c0)) {
        const double p = LevelCosts::seg(s_.param_bytes, 0, j);
        run(1, c_.replicas_estimate(c0, p, -1, j, hi) - 1, c_.replicas_estimate(c0, p, -1, j, lo) - 1,
            [&](int m) { return c_.single_stage(0, j, m); });
      }
      if (j == 0) continue;
      for_preds(j, [&](int k) {
        const double c = c_.segment(k + 1, j);
        if (std::isnan(c)) return;
        const double p = LevelCosts::seg(s_.param_bytes, k + 1, j);
        keep(c_.last_stage(c, p, k, j, 1));
        if (!straight_)
          run(2, c_.replicas_estimate(c, p, k, j, hi), c_.replicas_estimate(c, p, k, j, lo),
              [&](int r) { return c_.last_stage(c, p, k, j, r); });
      });
    }
  }

 private:
  std::uint64_t* row(int j) { return &bits_[static_cast<std::size_t>(j) * W_]; }
  const std::uint64_t* row(int j) const { return &bits_[static_cast<std::size_t>(j) * W_]; }
  bool test(int j, int m) const { return (row(j)[m >> 6] >> (m & 63)) & 1u; }

  // Predecessors of j, nearest first.
  template <class F>
  void for_preds(int j, const F& f) const {
    if (s_.is_chain_order) {
      for (int k = j - 1; k >= 0; --k) f(k);
    } else {
      const auto& p = s_.preds[j];
      for (auto it = p.rbegin(); it != p.rend(); ++it) f(*it);
    }
  }

  void add_transitions(int k, int j, double T, std::uint64_t* row) const {
    const int mk = low_[k];
    if (mk < 0 || mk + 1 > N_ - 1) return;
    const double c = c_.segment(k + 1, j);
    if (std::isnan(c)) return;
    const double p = LevelCosts::seg(s_.param_bytes, k + 1, j);
    if (c_.last_stage(c, p, k, j, 1) <= T) {
      // One machine: m - 1 in R[k], from the first end machine at which it fits.
      const int from =
          memory_ ? first_true(mk + 1, N_ - 1, mk + 1, [&](int m) { return c_.fits(m, 1, k + 1, j); })
                  : mk + 1;
      shift_or(row, this->row(k), from);
    }
    if (straight_ || mk + 2 > N_ - 1) return;
    // r >= 2 machines: at end machine m the best chance is r = m - min R[k],
    // and that only improves with m.
    const int rmax = N_ - 1 - mk;
    const int guess = c_.replicas_estimate(c, p, k, j, T);
    const int r0 = first_true(2, rmax, guess, [&](int r) { return c_.last_stage(c, p, k, j, r) <= T; });
    if (r0 > rmax) return;
    int from = mk + r0;
    if (memory_) from = first_true(from, N_ - 1, from, [&](int m) { return c_.fits(m, m - mk, k + 1, j); });
    set_from(row, from);
  }

  // row[m] |= src[m - 1] for m >= from (from >= 1).
  void shift_or(std::uint64_t* row, const std::uint64_t* src, int from) const {
    if (from > N_ - 1) return;
    for (int w = from >> 6; w < W_; ++w) {
      std::uint64_t v = (src[w] << 1) | (w > 0 ? src[w - 1] >> 63 : 0);
      if (w == (from >> 6)) v &= ~std::uint64_t{0} << (from & 63);
      row[w] |= v;
    }
    row[W_ - 1] &= tail_;
  }

  void set_from(std::uint64_t* row, int from) const {
    if (from > N_ - 1) return;
    row[from >> 6] |= ~std::uint64_t{0} << (from & 63);
    for (int w = (from >> 6) + 1; w < W_; ++w) row[w] = ~std::uint64_t{0};
    row[W_ - 1] &= tail_;
  }

  int lowest(const std::uint64_t* row) const {
    for (int w = 0; w < W_; ++w)
      if (row[w]) return w * 64 + std::countr_zero(row[w]);
    return -1;
  }

  // The largest m' <= m in R[k] (there is one: min R[k] <= m).
  int highest_at_most(int k, int m) const {
    const std::uint64_t* r = row(k);
    int w = m >> 6;
    std::uint64_t v = r[w] & (~std::uint64_t{0} >> (63 - (m & 63)));
    while (!v) v = r[--w];
    return w * 64 + 63 - std::countl_zero(v);
  }

  const LevelCosts& c_;
  const DpStates& s_;
  bool straight_, fewer_, memory_;
  int S_, N_, W_;
  std::uint64_t tail_;
  std::vector<std::uint64_t> bits_;
  std::vector<int> low_;
};

}  // namespace

BottleneckPlan solve_last_level(const LevelCosts& costs) {
  Bottleneck b(costs);
  BottleneckPlan out;
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (!b.feasible(inf)) return out;
  // Invariant: no plan within lo; a plan within hi (hi = that plan's value,
  // itself a stage time, so the search ends on the optimum exactly).
  std::vector<DpPiece> pieces;
  double hi = b.plan(inf, pieces);
  std::uint64_t lo_key = key(-inf), hi_key = key(hi);
  // First probe: all compute spread evenly over every machine, just below; at
  // the innermost level no plan beats it, so it saves the exponent's probes.
  const int S = costs.states();
  const double even = costs.segment(0, S - 1) / costs.machines();
  std::uint64_t probe = std::isfinite(even) && even > 0 ? key(even * (1 - 1e-9)) : (lo_key + hi_key) / 2;
  // Bisect until lo and hi are within about 2^-17 of each other (2^35 doubles
  // apart), then over the stage times that lie between them: a few hundred at
  // most in practice, where the doubles left would take 35 more probes.
  constexpr std::uint64_t kNarrow = std::uint64_t{1} << 35;
  while (hi_key - lo_key > kNarrow) {
    if (probe <= lo_key || probe >= hi_key) probe = lo_key + (hi_key - lo_key) / 2;
    const double T = from_key(probe);
    if (b.feasible(T)) {
      hi = b.plan(T, pieces);
      hi_key = key(hi);
    } else {
      lo_key = probe;
    }
    probe = lo_key + (hi_key - lo_key) / 2;
  }
  std::vector<double> times;
  b.window(from_key(lo_key), hi, times);
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  // times holds hi (its plan's slowest stage); find the least time with a plan.
  std::size_t a = 0, z = times.size() - 1;
  while (a < z) {
    const std::size_t mid = a + (z - a) / 2;
    if (b.feasible(times[mid]))
      z = mid;
    else
      a = mid + 1;
  }
  hi = times[a];
  b.feasible(hi);
  out.value = b.plan(hi, out.pieces);
  return out;
}

}  // namespace pipekit::detail
