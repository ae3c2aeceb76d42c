#include "planner/pipedream_dp.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "core/error.h"
#include "core/units.h"
#include "planner/pipedream_bottleneck.h"
#include "planner/pipedream_level.h"

namespace pipekit {
namespace {

using detail::DpEntry;
using detail::DpPiece;
using detail::DpTable;
using detail::LevelCosts;

// Runs f(0..rows-1), spread over the hardware threads when there are many rows.
template <class F>
void for_each_row(int rows, const F& f) {
  const int threads = std::min<int>(rows / 16, static_cast<int>(std::thread::hardware_concurrency()));
  if (threads <= 1) {
    for (int i = 0; i < rows; ++i) f(i);
    return;
  }
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i; (i = next.fetch_add(1)) < rows;) f(i);
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

class Solver {
 public:
  Solver(const DpStates& s, const PipeDreamOptions& o) : s_(s), o_(o), S_(s.size()) {
    if (s.is_chain_order) return;
    // Predecessors sorted by how much compute lies between them and the state,
    // smallest first, so the pruning below can stop early; and as bitsets for
    // PipeDream's "k not before the segment start" test.
    by_gap_.resize(S_);
    pred_bits_.assign(S_, std::vector<std::uint64_t>((S_ + 63) / 64, 0));
    for (int j = 0; j < S_; ++j) {
      by_gap_[j] = s.preds[j];
      std::stable_sort(by_gap_[j].begin(), by_gap_[j].end(),
                       [&](int a, int b) { return s.compute_s[a] > s.compute_s[b]; });
      for (int k : s.preds[j]) pred_bits_[j][k >> 6] |= std::uint64_t{1} << (k & 63);
    }
  }

  void solve_level(int level, bool final_level, double within, const DpTable* prev) {
    const int N = o_.machines[level];
    const double bw = o_.bandwidths[level];
    const LevelCosts costs(s_, o_, level, within, prev);
    // Measured (bench/bench_planner.cpp): the bisection costs about 20 probes
    // over every (predecessor, state) pair whatever the machine count; the
    // table grows with machines squared and prunes chains far better than DAGs.
    const bool bisect = o_.last_level == LastLevel::bisection ||
                        (o_.last_level == LastLevel::automatic && N > (s_.is_chain_order ? 64 : 15));
    if (final_level && bisect) {
      detail::BottleneckPlan plan = detail::solve_last_level(costs);
      final_value_ = plan.value;
      final_pieces_ = std::move(plan.pieces);
      tables_.emplace_back();
      return;
    }
    DpTable t;
    t.rows = final_level ? 1 : S_ + 1;
    t.S = S_;
    t.N = N;
    const std::size_t cells = static_cast<std::size_t>(t.rows) * S_ * N;
    if (cells > 300'000'000)
      throw InputError(
          "--devices", "",
          fmt::format("the planner's table would need {} cells ({} states x {} machines at level {}); "
                      "use fewer devices per level or a smaller model",
                      cells, S_, N, level + 1));
    t.a.assign(cells, DpEntry{});
    auto T = [&](int i, int j) { return costs.segment(i, j); };
    auto seg = LevelCosts::seg;
    const int max_m = o_.straight ? 1 : N;
    const bool transfers = o_.count_transfers && bw > 0;
    const double ratio = o_.compression_ratio > 0 ? o_.compression_ratio : 1.0;
    // Rows (segment starts) are independent: solve them in parallel.
    auto solve_row = [&](int i) {
      for (int j = i; j < S_; ++j)
        for (int m = 0; m < max_m; ++m) {
          if (!costs.fits(m, m + 1, i, j)) continue;
          const double v = costs.single_stage(i, j, m);
          if (std::isnan(v)) continue;
          t.at(i, j, m) = DpEntry{v, -1, -1, static_cast<std::int16_t>(m + 1)};
        }

      for (int m = 1; m < N; ++m)
        for (int j = i + 1; j < S_; ++j) {
          DpEntry cur = t.at(i, j, m);
          if (o_.fewer_machines) {
            const DpEntry& fewer = t.at(i, j, m - 1);
            if (fewer.ok() && (!cur.ok() || fewer.v < cur.v)) cur = fewer;
          }
          const int max_mp = o_.straight ? 1 : m;
          auto consider = [&](int k, int mp) {
            const double c = T(k + 1, j);
            if (std::isnan(c)) return;
            if (!costs.fits(m, mp, k + 1, j)) return;
            const DpEntry& before = t.at(i, k, m - mp);
            if (!before.ok()) return;
            const double pt =
                std::max(before.v, costs.last_stage(c, seg(s_.param_bytes, k + 1, j), k, j, mp));
            if (!cur.ok() || cur.v > pt)
              cur = DpEntry{pt, k, static_cast<std::int16_t>(m - mp), static_cast<std::int16_t>(mp)};
          };
          if (s_.is_chain_order) {
            // Compute C on r machines (each holding `within` devices) takes at
            // least C / (r within), for the last stage and for the part before
            // it alike; a replicated stage adds at least 2 params / bandwidth of
            // all-reduce, and transfers at least 2 bytes / (r bandwidth). Against
            // the best so far that bounds r from both sides; once even r = max_mp
            // is too few for the last stage, stop. Seeding with the neighbours'
            // choices makes the best so far good early.
            const DpEntry& left = t.at(i, j - 1, m);
            if (left.ok() && left.k >= i && left.machines <= max_mp) consider(left.k, left.machines);
            const DpEntry& fewer = t.at(i, j, m - 1);
            if (fewer.ok() && fewer.k >= i && fewer.machines + 1 <= max_mp)
              consider(fewer.k, fewer.machines + 1);
            const double start_c = i > 0 ? s_.compute_s[i - 1] : 0.0;
            const double slack = 1 - 1e-12;
            const double tr = transfers ? 2.0 / (bw * ratio) : 0.0;
            const double out_j = j < S_ - 1 ? s_.output_bytes[j] * tr : 0.0;
            int top = j - 1;
            if (cur.ok()) {
              // Larger k leave too much compute before the last stage for m machines.
              const double limit = start_c + m * cur.v * within / slack * (1 + 1e-9);
              const auto first = s_.compute_s.begin();
              top = std::min<int>(j - 1,
                                  static_cast<int>(std::lower_bound(first + i, first + j, limit) - first));
            }
            const double total_c = (s_.compute_s[j] - start_c) / within * slack;
            for (int k = top; k >= i; --k) {
              int lo = 1, lo_replicated = 2, hi = max_mp;
              if (cur.ok()) {
                const double c = cur.v;
                const double stage_c = (s_.compute_s[j] - s_.compute_s[k]) / within * slack;
                if (stage_c >= c * max_mp) break;
                const double before_c = (s_.compute_s[k] - start_c) / within * slack;
                const double x = before_c / c;  // the part before needs more than x machines
                if (x >= m) continue;
                hi = std::min(max_mp, static_cast<int>(std::ceil(m + 1 - x)) - 1);
                const double moved = std::max(out_j, s_.output_bytes[k] * tr) * slack;
                lo = std::max(
                    1,
                    static_cast<int>(std::min<double>(std::floor(std::max(stage_c, moved) / c), max_mp)) + 1);
                double ar = bw > 0 ? 2.0 * seg(s_.param_bytes, k + 1, j) / bw * slack : 0.0;
                // Going down in k, the last stage's compute and all-reduce only
                // grow: once one machine is too few for it and the all-reduce
                // eats the slack left by the whole segment's compute on m + 1
                // machines, no smaller k can win either.
                if (stage_c >= c && (stage_c + ar >= c * max_mp || total_c + ar >= c * (m + 1))) break;
                lo_replicated = std::max(
                    {2, lo, static_cast<int>(std::min<double>(std::floor((stage_c + ar) / c), max_mp)) + 1});
              }
              if (lo <= 1 && hi >= 1) consider(k, 1);
              for (int mp = lo_replicated; mp <= hi; ++mp) consider(k, mp);
            }
          } else if (!prev) {
            // Innermost level: T(k+1, j) is the compute between k and j, so the
            // same bound holds with predecessors in order of growing compute.
            const std::uint64_t* skip = i > 0 ? pred_bits_[i - 1].data() : nullptr;
            for (int mp = 1; mp <= max_mp; ++mp)
              for (int k : by_gap_[j]) {
                const double lower = (s_.compute_s[j] - s_.compute_s[k]) / mp;
                if (cur.ok() && lower * (1 - 1e-12) >= cur.v) break;
                if (skip && ((skip[k >> 6] >> (k & 63)) & 1u)) continue;
                consider(k, mp);
              }
          } else {
            // Higher levels of a DAG: PipeDream's segment times need not grow
            // with the segment, so no pruning.
            const std::uint64_t* skip = i > 0 ? pred_bits_[i - 1].data() : nullptr;
            for (int k : s_.preds[j]) {
              if (skip && ((skip[k >> 6] >> (k & 63)) & 1u)) continue;
              for (int mp = 1; mp <= max_mp; ++mp) consider(k, mp);
            }
          }
          t.at(i, j, m) = cur;
        }
    };
    for_each_row(t.rows, solve_row);
    tables_.push_back(std::move(t));
  }

  // PipeDream's analyze_partitioning: the stages of segment [start, end) at a level.
  std::vector<DpPiece> split(int level, int start, int end) const {
    if (level == static_cast<int>(tables_.size()) - 1 && tables_[level].a.empty()) return final_pieces_;
    const DpTable& t = tables_[level];
    const int row = t.rows == 1 ? 0 : start;
    DpEntry e = t.at(row, end - 1, t.N - 1);
    std::vector<int> cuts, reps;
    while (e.k >= 0) {
      cuts.push_back(e.k + 1);
      reps.push_back(e.machines);
      e = t.at(row, e.k, e.rest);
    }
    reps.push_back(e.machines);
    std::reverse(cuts.begin(), cuts.end());
    std::reverse(reps.begin(), reps.end());
    std::vector<DpPiece> out;
    int from = start;
    for (std::size_t c = 0; c < cuts.size(); ++c) {
      out.push_back({from, cuts[c], reps[c]});
      from = cuts[c];
    }
    out.push_back({from, end, reps.back()});
    return out;
  }

  const DpTable& table(int level) const { return tables_[level]; }

  // The optimum of the whole model on all machines; NaN: no plan.
  double final_value() const {
    const DpTable& t = tables_.back();
    return t.a.empty() ? final_value_ : t.at(0, S_ - 1, t.N - 1).v;
  }

 private:
  const DpStates& s_;
  const PipeDreamOptions& o_;
  int S_;
  std::vector<DpTable> tables_;
  double final_value_ = detail::kNoPlan;  // the last level, when solved by bisection
  std::vector<DpPiece> final_pieces_;
  std::vector<std::vector<int>> by_gap_;
  std::vector<std::vector<std::uint64_t>> pred_bits_;
};

void check_options(const PipeDreamOptions& o) {
  if (o.machines.empty())
    throw InputError("--devices", "", "no device count given; pass e.g. --devices 4 or 8,2");
  if (o.bandwidths.size() != o.machines.size())
    throw InputError(
        "--bandwidth", "",
        fmt::format("{} bandwidths for {} levels of devices; give one bandwidth per level, innermost first",
                    o.bandwidths.size(), o.machines.size()));
  for (std::size_t l = 0; l < o.machines.size(); ++l) {
    if (o.machines[l] < 1 || o.machines[l] > 30000)
      throw InputError("--devices", fmt::format("level {}", l + 1),
                       fmt::format("{} devices; each level needs between 1 and 30000", o.machines[l]));
    if (!std::isfinite(o.bandwidths[l]) || o.bandwidths[l] < 0)
      throw InputError("--bandwidth", fmt::format("level {}", l + 1),
                       "bandwidth must be a finite number >= 0 (bytes/s)");
  }
  if (o.memory_bytes && (!std::isfinite(*o.memory_bytes) || *o.memory_bytes <= 0))
    throw InputError("--memory", "", "memory per device must be a positive number of bytes, e.g. 16GiB");
}

}  // namespace

DpResult pipedream_partition(const Profile& p, const PipeDreamOptions& o) {
  check_options(o);
  const std::vector<bool> dropped = pipedream_dropped_layers(p);
  const DpStates states = build_dp_states(p, dropped, o.max_antichain_states);
  const int S = states.size();
  const int L = static_cast<int>(o.machines.size());

  Solver solver(states, o);
  double within = 1;
  for (int l = 0; l < L; ++l) {
    solver.solve_level(l, l == L - 1, within, l > 0 ? &solver.table(l - 1) : nullptr);
    within *= o.machines[l];
  }
  const double top = solver.final_value();
  if (std::isnan(top) && o.straight && !o.memory_bytes)
    throw InputError(
        "--devices", "",
        fmt::format("a straight pipeline on {} devices needs {} stages, but the model offers only {} "
                    "places to cut ({}); use at most {} devices or drop --straight",
                    static_cast<int>(within), static_cast<int>(within), S, to_string(states.kind), S));
  if (std::isnan(top)) {
    std::string limit = o.memory_bytes ? format_bytes(*o.memory_bytes) : "none";
    throw InputError("--memory", "",
                     fmt::format("no split of {} onto {} devices fits {} per device under the {} cost model; "
                                 "raise --memory, add devices, or drop --straight",
                                 p.model.empty() ? "the model" : p.model, static_cast<int>(within), limit,
                                 o.cost_model == CostModel::pipedream ? "pipedream" : "pipekit"));
  }

  // Unfold levels outermost first; a stage's devices multiply through the levels.
  struct Seg {
    int start, end, devices;
  };
  std::vector<Seg> segs{{0, S, 1}};
  for (int l = L - 1; l >= 0; --l) {
    std::vector<Seg> next;
    for (const Seg& s : segs)
      for (const auto& piece : solver.split(l, s.start, s.end))
        next.push_back({piece.start, piece.end, s.devices * piece.machines});
    segs = std::move(next);
  }

  DpResult r;
  r.graph = states.kind;
  r.num_states = S;
  r.time_per_minibatch_s = top;
  r.single_device_s = states.compute_s[S - 1];
  std::vector<int> stage_of(p.layers.size(), -1);
  for (const Seg& s : segs) {
    DpStage st;
    st.layers = states.layers_between(s.start - 1, s.end - 1);
    st.replicas = s.devices;
    for (int l : st.layers) stage_of[l] = static_cast<int>(r.stages.size());
    r.stages.push_back(std::move(st));
    r.devices_used += s.devices;
  }
  // Layers outside every state (dropped sinks, extra sources) join a neighbour.
  std::vector<std::vector<int>> producers(p.layers.size()), consumers(p.layers.size());
  for (auto [a, b] : p.edges) {
    producers[b].push_back(a);
    consumers[a].push_back(b);
  }
  for (std::size_t l = 0; l < p.layers.size(); ++l)
    if (stage_of[l] < 0)
      for (int a : producers[l])
        if (stage_of[a] >= 0) stage_of[l] = stage_of[a];
  for (std::size_t l = p.layers.size(); l-- > 0;)
    if (stage_of[l] < 0) {
      stage_of[l] = 0;
      for (int b : consumers[l])
        if (stage_of[b] >= 0) {
          stage_of[l] = stage_of[b];
          break;
        }
    }
  for (auto& st : r.stages) st.layers.clear();
  for (std::size_t l = 0; l < p.layers.size(); ++l)
    r.stages[stage_of[l]].layers.push_back(static_cast<int>(l));

  // Per-stage facts under the chosen cost model.
  int devices_after = r.devices_used;
  for (auto& st : r.stages) {
    double act = 0, saved = 0;
    for (int l : st.layers) {
      const Layer& x = p.layers[l];
      st.compute_s += (x.forward_ms + x.backward_ms) / 1000.0;
      st.param_bytes += static_cast<double>(x.param_bytes);
      act += static_cast<double>(x.output_bytes);
      saved += static_cast<double>(x.saved_bytes);
    }
    const int from_here = devices_after;
    devices_after -= st.replicas;
    if (o.cost_model == CostModel::pipedream)
      st.memory_bytes = LevelCosts::ceil_div(devices_after, st.replicas) * (act + st.param_bytes);
    else
      st.memory_bytes =
          st.param_bytes * (2.0 + o.optimizer_factor) + saved * LevelCosts::ceil_div(from_here, st.replicas);
  }
  // PipeDream's data-parallel estimate, for the speed-up comparison.
  double dp = r.single_device_s, inner = 1;
  for (int l = 0; l < L; ++l) {
    const int N = o.machines[l];
    const double bw = o.bandwidths[l];
    double comm = bw > 0 ? 4.0 * (N - 1) * states.param_bytes[S - 1] / (bw * N) : 0.0;
    if (o.cost_model == CostModel::pipedream) comm /= inner;  // PipeDream's estimate; pipekit: shared links
    dp = (dp + comm) / N;
    inner = N;
  }
  r.data_parallel_s = dp;
  return r;
}

}  // namespace pipekit
