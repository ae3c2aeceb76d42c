// The bisection of PipeDream's last level (planner/pipedream_bottleneck.h)
// against the table it replaces, on many small random profiles: chains and
// branching graphs, one and two levels of machines, both cost models, straight,
// fewer_machines, memory limits, transfers on and off. Same optimum bit for
// bit; a valid plan that attains it; the table's plan wherever the optimum is
// attained by one plan only.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <random>

#include "core/error.h"
#include "planner/pipedream_dp.h"
#include "tests/support/planner_test_support.h"

using namespace pipekit;

namespace {

struct Drawn {
  Profile profile;
  PipeDreamOptions options;
};

// Layer data with ties and zeros on purpose: equal times, free layers, no params.
Profile random_layers(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> style(0, 3);
  const int s = style(rng);
  std::uniform_real_distribution<double> ms(0.5, 50);
  std::uniform_int_distribution<int> small(0, 4);
  std::uniform_int_distribution<std::int64_t> bytes(0, 300'000'000);
  Profile p;
  p.model = "random";
  for (int i = 0; i < n; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.kind = "Linear";
    l.forward_ms = s == 1 ? 10.0 * small(rng) : s == 2 ? 5.0 : ms(rng);
    l.backward_ms = 2 * l.forward_ms;
    l.param_bytes = s == 3 ? 0 : bytes(rng);
    l.output_bytes = s == 2 ? 50'000'000 : bytes(rng);
    l.saved_bytes = bytes(rng);
    p.layers.push_back(l);
  }
  return p;
}

// A graph from layer 0 to layer n-1: every layer reads one or two earlier ones,
// and the last reads every layer nobody else reads.
void add_branches(std::mt19937& rng, Profile& p) {
  const int n = static_cast<int>(p.layers.size());
  std::vector<bool> read(n, false);
  for (int b = 1; b < n - 1; ++b) {
    std::uniform_int_distribution<int> from(std::max(0, b - 3), b - 1);
    const int a = from(rng);
    p.edges.push_back({a, b});
    read[a] = true;
    const int c = from(rng);
    if (c != a && rng() % 2) {
      p.edges.push_back({c, b});
      read[c] = true;
    }
  }
  for (int a = 0; a < n - 1; ++a)
    if (!read[a]) p.edges.push_back({a, n - 1});
}

Drawn draw(std::mt19937& rng, int trial) {
  Drawn d;
  const bool dag = trial % 3 == 2;
  const int n = 1 + static_cast<int>(rng() % (dag ? 9 : 8));
  d.profile = random_layers(rng, dag ? std::max(n, 3) : n);
  if (dag) add_branches(rng, d.profile);
  PipeDreamOptions& o = d.options;
  const double bws[] = {0, 1e8, 1e9, 1e10};
  if (trial % 4 == 3) {
    o.machines = {1 + static_cast<int>(rng() % 4), 1 + static_cast<int>(rng() % 4)};
    o.bandwidths = {bws[rng() % 4], bws[rng() % 4]};
  } else {
    o.machines = {1 + static_cast<int>(rng() % 12)};
    o.bandwidths = {bws[rng() % 4]};
  }
  o.cost_model = rng() % 2 ? CostModel::pipedream : CostModel::pipekit;
  o.straight = rng() % 5 == 0;
  o.fewer_machines = rng() % 3 == 0;
  o.count_transfers = rng() % 4 != 0;
  o.compression_ratio = rng() % 3 == 0 ? 2.5 : 1.0;
  o.optimizer_factor = rng() % 2 ? 2.0 : 0.0;
  if (rng() % 2) o.memory_bytes = std::uniform_real_distribution<double>(2e8, 6e9)(rng);
  if (dag && rng() % 4 == 0) o.max_antichain_states = 3;  // condensed
  return d;
}

std::optional<DpResult> solve(const Drawn& d, LastLevel how) {
  PipeDreamOptions o = d.options;
  o.last_level = how;
  try {
    return pipedream_partition(d.profile, o);
  } catch (const InputError&) {
    return std::nullopt;
  }
}

double compute_s(const Profile& p, int first, int last) {
  double c = 0;
  for (int l = first; l <= last; ++l) c += (p.layers[l].forward_ms + p.layers[l].backward_ms) / 1000.0;
  return c;
}

double params(const Profile& p, int first, int last) {
  double s = 0;
  for (int l = first; l <= last; ++l) s += static_cast<double>(p.layers[l].param_bytes);
  return s;
}

// A flat chain's plan costed from scratch, the rules of pipedream_dp.h written
// out; NaN if a stage does not fit. Every plan on exactly N machines.
double chain_plan_time(const Profile& p, const PipeDreamOptions& o,
                       const std::vector<std::pair<int, int>>& st, const std::vector<int>& r) {
  const int N = o.machines[0];
  const double bw = o.bandwidths[0];
  const bool transfers = o.count_transfers && bw > 0;
  double worst = 0;
  int through = 0;
  for (std::size_t t = 0; t < st.size(); ++t) {
    const auto [a, b] = st[t];
    through += r[t];
    const double P = params(p, a, b);
    if (o.memory_bytes) {
      double act = 0, saved = 0;
      for (int l = a; l <= b; ++l) {
        act += static_cast<double>(p.layers[l].output_bytes);
        saved += static_cast<double>(p.layers[l].saved_bytes);
      }
      const double need =
          o.cost_model == CostModel::pipedream
              ? std::ceil(double(N - through) / r[t]) * (act + P)
              : P * (2.0 + o.optimizer_factor) + saved * std::ceil(double(N - through + r[t]) / r[t]);
      if (need > *o.memory_bytes) return std::numeric_limits<double>::quiet_NaN();
    }
    double time = (compute_s(p, a, b) + (bw > 0 && r[t] > 1 ? 4.0 * (r[t] - 1) * P / (bw * r[t]) : 0)) / r[t];
    if (t > 0 && transfers) {
      time = std::max(time, 2.0 * p.layers[a - 1].output_bytes / (bw * r[t]) / o.compression_ratio);
      if (t + 1 < st.size())
        time = std::max(time, 2.0 * p.layers[b].output_bytes / (bw * r[t]) / o.compression_ratio);
    }
    worst = std::max(worst, time);
  }
  return worst;
}

// How many plans of a flat chain on exactly N machines come within a hair of
// `best` (rounding differs between this costing and the DP's prefix sums).
int plans_near(const Profile& p, const PipeDreamOptions& o, double best) {
  const int n = static_cast<int>(p.layers.size());
  const int N = o.machines[0];
  int count = 0;
  for (int mask = 0; mask < (1 << (n - 1)); ++mask) {
    std::vector<std::pair<int, int>> st;
    for (int i = 0, first = 0; i < n; ++i)
      if (i == n - 1 || (mask >> i) & 1) {
        st.push_back({first, i});
        first = i + 1;
      }
    const int S = static_cast<int>(st.size());
    if (S > N) continue;
    std::vector<int> r(S, 1);
    std::function<void(int, int)> assign = [&](int s, int left) {
      if (s == S - 1) {
        if (o.straight && left != 1) return;
        r[s] = left;
        const double t = chain_plan_time(p, o, st, r);
        if (!std::isnan(t) && t <= best * (1 + 1e-9)) ++count;
        return;
      }
      const int max_r = o.straight ? 1 : left - (S - s - 1);
      for (int x = 1; x <= max_r; ++x) {
        r[s] = x;
        assign(s + 1, left - x);
      }
    };
    assign(0, N);
  }
  return count;
}

}  // namespace

TEST_CASE("bisection of the last level: same optimum as the table on random profiles") {
  std::mt19937 rng(17);
  int solved = 0, unique_plans = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const Drawn d = draw(rng, trial);
    CAPTURE(trial);
    const auto table = solve(d, LastLevel::table);
    const auto bisect = solve(d, LastLevel::bisection);
    REQUIRE(table.has_value() == bisect.has_value());
    if (!table) continue;
    ++solved;
    // Bit for bit: both take the least of the same stage times.
    CHECK(bisect->time_per_minibatch_s == table->time_per_minibatch_s);

    const PipeDreamOptions& o = d.options;
    int devices = 1;
    for (int m : o.machines) devices *= m;
    std::vector<int> seen(d.profile.layers.size(), 0);
    for (const auto& s : bisect->stages) {
      CHECK(s.replicas >= 1);
      if (o.straight) CHECK(s.replicas == 1);
      for (int l : s.layers) ++seen[l];
    }
    for (int x : seen) CHECK(x == 1);
    CHECK(bisect->devices_used <= devices);
    if (!o.fewer_machines) CHECK(bisect->devices_used == devices);

    if (o.machines.size() != 1 || !d.profile.edges.empty()) continue;
    // A flat chain: cost the plan from scratch; check memory; and where no other
    // plan comes near the optimum, the plan is the table's.
    std::vector<std::pair<int, int>> st;
    std::vector<int> r;
    for (const auto& s : bisect->stages) {
      st.push_back({s.layers.front(), s.layers.back()});
      r.push_back(s.replicas);
      if (o.memory_bytes) CHECK(s.memory_bytes <= *o.memory_bytes);
    }
    if (!o.fewer_machines)
      CHECK(chain_plan_time(d.profile, o, st, r) ==
            doctest::Approx(bisect->time_per_minibatch_s).epsilon(1e-12));
    if (!o.fewer_machines && plans_near(d.profile, o, table->time_per_minibatch_s) == 1) {
      ++unique_plans;
      REQUIRE(bisect->stages.size() == table->stages.size());
      for (std::size_t s = 0; s < st.size(); ++s) {
        CHECK(bisect->stages[s].layers == table->stages[s].layers);
        CHECK(bisect->stages[s].replicas == table->stages[s].replicas);
      }
    }
  }
  // The draw must exercise both outcomes and the plan comparison.
  CHECK(solved > 2000);
  CHECK(unique_plans > 300);
}

TEST_CASE("bisection of the last level: same optimum on larger flat chains (20-59 layers, 8-281 machines)") {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 40; ++trial) {
    CAPTURE(trial);
    Drawn d;
    d.profile = test::random_chain(rng, 20 + trial);
    PipeDreamOptions& o = d.options;
    o.machines = {8 + 7 * trial};
    o.bandwidths = {trial % 5 == 0 ? 0.0 : 1e9 * (1 + trial % 3)};
    o.cost_model = trial % 2 ? CostModel::pipedream : CostModel::pipekit;
    o.fewer_machines = trial % 3 == 0;
    if (trial % 4 == 1) o.memory_bytes = 4e9;
    const auto table = solve(d, LastLevel::table);
    const auto bisect = solve(d, LastLevel::bisection);
    REQUIRE(table.has_value() == bisect.has_value());
    if (table) CHECK(bisect->time_per_minibatch_s == table->time_per_minibatch_s);
  }
}
