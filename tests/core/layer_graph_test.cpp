#include <doctest/doctest.h>

#include "core/layer_graph.h"

using namespace pipekit;

TEST_CASE("a profile without edges is a chain") {
  Profile p;
  p.layers.resize(4);
  LayerDag g = build_layer_dag(p);
  DagFacts f = dag_facts(g);
  CHECK(f.chain);
  CHECK(f.edges == 3);
  CHECK(topological_order(g) == std::vector<int>{0, 1, 2, 3});
  CHECK_FALSE(find_cycle(g).has_value());
}

TEST_CASE("a residual block is a branching DAG") {
  Profile p;
  p.layers.resize(4);
  p.edges = {{0, 1}, {1, 2}, {0, 3}, {2, 3}};
  DagFacts f = dag_facts(build_layer_dag(p));
  CHECK_FALSE(f.chain);
  CHECK(f.branching_layers == 1);
  CHECK(f.max_fan_in == 2);
  auto order = topological_order(build_layer_dag(p));
  CHECK(order.front() == 0);
  CHECK(order.back() == 3);
}

TEST_CASE("cycles are found without recursion on deep graphs") {
  Profile p;
  const int n = 200000;
  p.layers.resize(n);
  for (int i = 0; i + 1 < n; ++i) p.edges.push_back({i, i + 1});
  CHECK_FALSE(find_cycle(build_layer_dag(p)).has_value());
  p.edges.push_back({n - 1, 0});
  CHECK(find_cycle(build_layer_dag(p)).has_value());
}
