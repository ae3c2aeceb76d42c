// PipeDream's dynamic program: published and recorded reference plans, hand
// calculations and brute force over small chains.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "planner/antichain_dag.h"
#include "planner/pipedream_dp.h"
#include "profiles/pipedream_graph.h"
#include "tests/support/planner_test_support.h"

using namespace pipekit;

namespace {

std::string data(const std::string& model) {
  return std::string(PIPEKIT_PIPEDREAM_DIR) + "/" + model + "/graph.txt";
}

PipeDreamOptions pipedream(std::vector<int> machines, std::vector<double> bw) {
  PipeDreamOptions o;
  o.machines = std::move(machines);
  o.bandwidths = std::move(bw);
  o.cost_model = CostModel::pipedream;
  return o;
}

std::vector<int> replicas(const DpResult& r) {
  std::vector<int> out;
  for (const auto& s : r.stages) out.push_back(s.replicas);
  return out;
}

// Every split of the chain into stages and every replica assignment, costed by
// the recurrence's formulas written out: a stage on r machines takes
// (compute + 4 (r-1) params / (r bw)) / r; every stage after the first also waits
// for 2 bytes / (r bw) over its input boundary and, unless it ends the model, its
// output boundary.
double brute_force(const Profile& p, int N, double bw, bool straight, bool fewer) {
  const int n = static_cast<int>(p.layers.size());
  double best = std::numeric_limits<double>::infinity();
  for (int mask = 0; mask < (1 << (n - 1)); ++mask) {
    std::vector<std::pair<int, int>> stages;
    int first = 0;
    for (int i = 0; i < n; ++i)
      if (i == n - 1 || (mask >> i) & 1) {
        stages.push_back({first, i});
        first = i + 1;
      }
    const int S = static_cast<int>(stages.size());
    std::vector<int> r(S, 1);
    std::function<void(int, int)> assign = [&](int s, int left) {
      if (s == S) {
        if (left != 0 && !fewer) return;
        double worst = 0;
        for (int t = 0; t < S; ++t) {
          double c = 0, params = 0;
          for (int l = stages[t].first; l <= stages[t].second; ++l) {
            c += (p.layers[l].forward_ms + p.layers[l].backward_ms) / 1000.0;
            params += static_cast<double>(p.layers[l].param_bytes);
          }
          double time = (c + 4.0 * (r[t] - 1) * params / (r[t] * bw)) / r[t];
          if (t > 0) {
            time = std::max(time, 2.0 * p.layers[stages[t].first - 1].output_bytes / (bw * r[t]));
            if (t < S - 1) time = std::max(time, 2.0 * p.layers[stages[t].second].output_bytes / (bw * r[t]));
          }
          worst = std::max(worst, time);
        }
        best = std::min(best, worst);
        return;
      }
      const int max_r = straight ? 1 : left - (S - s - 1);
      for (int x = 1; x <= max_r; ++x) {
        r[s] = x;
        assign(s + 1, left - x);
      }
    };
    if (S <= N) assign(0, N);
  }
  return best;
}

}  // namespace

TEST_CASE("vgg16 on 4 workers at 1 GB/s: PipeDream's published 3-1 plan") {
  Profile p = load_profile(data("vgg16"));
  DpResult r = pipedream_partition(p, pipedream({4}, {1e9}));
  REQUIRE(r.stages.size() == 2);
  CHECK(replicas(r) == std::vector<int>{3, 1});
  CHECK(r.time_per_minibatch_s == doctest::Approx(0.205521).epsilon(1e-6));
  CHECK(r.single_device_s / r.time_per_minibatch_s == doctest::Approx(3.27).epsilon(1e-3));
  // The first stage ends with the third pooling layer's block: node18, just
  // before node19 (PipeDream's "split before antichain ['node19']").
  CHECK(p.layers[r.stages[0].layers.back()].name == "node18");
  CHECK(p.layers[r.stages[1].layers.front()].name == "node19");
  CHECK(r.stages[0].layers.size() + r.stages[1].layers.size() == p.layers.size());
}

// Values printed by optimizer_graph_hierarchical.py (msr-fiddle/pipedream) on
// the same graph.txt files; see the report of the planner work for commands.
TEST_CASE("matches PipeDream's optimizer on recorded runs") {
  struct Case {
    std::string model;
    std::vector<int> machines;
    std::vector<double> bw;
    bool straight, fewer, transfers;
    double memory;
    double expect;
    std::vector<int> reps;  // empty: not checked (ties)
  };
  const std::vector<Case> cases = {
      {"vgg16", {16}, {1e9}, false, false, true, 0, 0.05652976738461539, {13, 2, 1}},
      {"vgg16", {16}, {1e9}, false, false, false, 0, 0.04738645999999999, {9, 1, 2, 1, 1, 1, 1}},
      {"vgg16", {4}, {1e9}, true, false, true, 0, 0.411041792, {1, 1, 1, 1}},
      {"vgg16", {8}, {1e9}, false, true, true, 0, 0.10383317028571429, {7, 1}},
      {"vgg16", {8}, {1e9}, false, false, true, 4e9, 0.326192577, {8}},
      {"vgg16", {4, 2}, {1e10, 1e9}, false, false, true, 0, 0.15782057919999995, {4, 1, 1, 1, 1}},
      {"alexnet", {8}, {1e9}, false, false, true, 0, 0.018874368, {}},  // ties: 6-1-1 or 7-1
      {"gnmt_large", {4}, {1e9}, false, false, true, 0, 0.13712900000000006, {1, 1, 1, 1}},
      {"gnmt_large", {4}, {1e9}, false, false, false, 0, 0.13712900000000006, {1, 1, 1, 1}},
      {"resnet50", {4}, {1e9}, false, false, true, 0, 0.16288092399999995, {2, 2}},
      {"resnet50", {8, 2}, {1e10, 1e9}, false, false, true, 0, 0.0410701206, {8, 4, 2, 2}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.model);
    CAPTURE(c.machines.size());
    Profile p = load_profile(data(c.model));
    PipeDreamOptions o = pipedream(c.machines, c.bw);
    o.straight = c.straight;
    o.fewer_machines = c.fewer;
    o.count_transfers = c.transfers;
    if (c.memory > 0) o.memory_bytes = c.memory;
    DpResult r = pipedream_partition(p, o);
    CHECK(r.time_per_minibatch_s == doctest::Approx(c.expect).epsilon(1e-9));
    if (!c.reps.empty()) CHECK(replicas(r) == c.reps);
    std::size_t covered = 0;
    for (const auto& s : r.stages) covered += s.layers.size();
    CHECK(covered == p.layers.size());
  }
}

TEST_CASE("two equal layers with heavy parameters: split beats replication") {
  // Each layer 1 s; 1 GB of params per layer at 1 GB/s. Two stages: 1 s each.
  // One stage on 2 machines: (2 s + 4 * 1 * 2 GB / (2 * 1 GB/s)) / 2 = 3 s.
  Profile p = test::chain_profile({1000, 1000}, 1'000'000'000, 0);
  PipeDreamOptions o;
  o.machines = {2};
  o.bandwidths = {1e9};
  DpResult r = pipedream_partition(p, o);
  CHECK(r.time_per_minibatch_s == doctest::Approx(1.0));
  CHECK(replicas(r) == std::vector<int>{1, 1});
  // Without parameters replication halves the work just as well: 1 s either way,
  // and with a transfer of 1 GB per boundary the split costs 2 s: replicate.
  Profile q = test::chain_profile({1000, 1000}, 0, 1'000'000'000);
  r = pipedream_partition(q, o);
  CHECK(r.time_per_minibatch_s == doctest::Approx(1.0));
  CHECK(replicas(r) == std::vector<int>{2});
}

TEST_CASE("the dynamic program equals brute force on small random chains") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 2 + trial % 5;
    const int N = 1 + trial % 4;
    Profile p = test::random_chain(rng, n);
    for (int variant = 0; variant < 4; ++variant) {
      const bool straight = variant == 1 || variant == 3;
      const bool fewer = variant >= 2;
      if (straight && !fewer && N > n) continue;
      for (CostModel cm : {CostModel::pipedream, CostModel::pipekit}) {
        CAPTURE(trial);
        CAPTURE(variant);
        PipeDreamOptions o;
        o.machines = {N};
        o.bandwidths = {1e9};
        o.cost_model = cm;
        o.straight = straight;
        o.fewer_machines = fewer;
        const double expect = brute_force(p, N, 1e9, straight, fewer);
        DpResult r = pipedream_partition(p, o);
        CHECK(r.time_per_minibatch_s == doctest::Approx(expect).epsilon(1e-12));
        int used = 0;
        for (const auto& s : r.stages) used += s.replicas;
        CHECK(used <= N);
        if (!fewer) CHECK(used == N);
      }
    }
  }
}

TEST_CASE("memory limits: infeasible plans are an InputError, never an empty plan") {
  Profile p = test::chain_profile({10, 10, 10}, 1'000'000'000, 1000, 1000);
  PipeDreamOptions o;
  o.machines = {2};
  o.bandwidths = {1e9};
  o.memory_bytes = 1e6;  // less than any stage's 4 GB of weights, grads and Adam state
  CHECK_THROWS_AS(pipedream_partition(p, o), InputError);
  o.memory_bytes = 9e9;  // two layers' worth (8 GB) fits; three (12 GB) does not
  DpResult r = pipedream_partition(p, o);
  for (const auto& s : r.stages) CHECK(s.memory_bytes <= 9e9);
  CHECK(r.stages.size() == 2);
}

TEST_CASE("bad options throw InputError") {
  Profile p = test::chain_profile({1, 2, 3});
  PipeDreamOptions o;
  CHECK_THROWS_AS(pipedream_partition(p, o), InputError);  // no devices
  o.machines = {2};
  o.bandwidths = {1e9, 1e9};
  CHECK_THROWS_AS(pipedream_partition(p, o), InputError);  // bandwidths per level
  o.bandwidths = {-1};
  CHECK_THROWS_AS(pipedream_partition(p, o), InputError);
  // A straight pipeline cannot use more devices than there are places to cut.
  o.machines = {4};
  o.bandwidths = {1e9};
  o.straight = true;
  try {
    pipedream_partition(p, o);
    FAIL("expected InputError");
  } catch (const InputError& e) {
    CHECK(e.source() == "--devices");
    CHECK(std::string(e.what()).find("at most 3 devices") != std::string::npos);
  }
}

TEST_CASE("antichain states of a diamond follow PipeDream's enumeration") {
  // a -> b, a -> c, b -> d, c -> d: states {a}, {b}, {c}, {b,c}, {d}.
  Profile p = test::chain_profile({1, 2, 3, 4}, 0, 10);
  p.edges = {{0, 1}, {0, 2}, {1, 3}, {2, 3}};
  DpStates s = build_dp_states(p, std::vector<bool>(4, false));
  CHECK(s.kind == DpStates::Kind::antichain);
  CHECK(s.size() == 5);
  CHECK(s.compute_s.back() == doctest::Approx(0.010));
  CHECK(s.layers_between(-1, s.size() - 1).size() == 4);
  CHECK_FALSE(s.is_chain_order);
  // Too many states: condensed at the cut vertices a and d.
  DpStates c = build_dp_states(p, std::vector<bool>(4, false), 2);
  CHECK(c.kind == DpStates::Kind::condensed);
  CHECK(c.size() == 2);
  CHECK(c.layers_between(-1, 0) == std::vector<int>{0});
  CHECK(c.layers_between(0, 1) == std::vector<int>{1, 2, 3});
}

TEST_CASE("branching giants plan without state explosion") {
  for (const std::string model : {"inception_v3", "nasnetalarge"}) {
    CAPTURE(model);
    Profile p = load_profile(data(model));
    PipeDreamOptions o;
    o.machines = {8};
    o.bandwidths = {1e9};
    DpResult r = pipedream_partition(p, o);
    CHECK(r.graph == DpStates::Kind::condensed);
    CHECK(r.time_per_minibatch_s > 0);
    CHECK(r.time_per_minibatch_s < r.single_device_s);
    std::vector<int> seen(p.layers.size(), 0);
    for (const auto& s : r.stages)
      for (int l : s.layers) ++seen[l];
    for (int x : seen) CHECK(x == 1);
  }
}
