#include "core/layer_graph.h"

#include <algorithm>
#include <boost/graph/topological_sort.hpp>

namespace pipekit {

LayerDag build_layer_dag(const Profile& p) {
  const int n = static_cast<int>(p.layers.size());
  LayerDag g(n);
  if (p.edges.empty()) {
    for (int i = 0; i + 1 < n; ++i) boost::add_edge(i, i + 1, g);
  } else {
    for (auto [a, b] : p.edges)
      if (a >= 0 && a < n && b >= 0 && b < n) boost::add_edge(a, b, g);
  }
  return g;
}

std::optional<int> find_cycle(const LayerDag& g) {
  // Iterative three-colour DFS: recursion depth would follow model depth.
  const int n = static_cast<int>(boost::num_vertices(g));
  std::vector<char> colour(n, 0);
  std::vector<std::pair<int, LayerDag::adjacency_iterator>> stack;
  for (int s = 0; s < n; ++s) {
    if (colour[s]) continue;
    colour[s] = 1;
    stack.push_back({s, boost::adjacent_vertices(s, g).first});
    while (!stack.empty()) {
      auto& [v, it] = stack.back();
      if (it == boost::adjacent_vertices(v, g).second) {
        colour[v] = 2;
        stack.pop_back();
        continue;
      }
      int w = static_cast<int>(*it++);
      if (colour[w] == 1) return w;
      if (colour[w] == 0) {
        colour[w] = 1;
        stack.push_back({w, boost::adjacent_vertices(w, g).first});
      }
    }
  }
  return std::nullopt;
}

std::vector<int> topological_order(const LayerDag& g) {
  std::vector<LayerDag::vertex_descriptor> rev;
  boost::topological_sort(g, std::back_inserter(rev));
  return {rev.rbegin(), rev.rend()};
}

DagFacts dag_facts(const LayerDag& g) {
  DagFacts f;
  const int n = static_cast<int>(boost::num_vertices(g));
  f.edges = static_cast<int>(boost::num_edges(g));
  for (int v = 0; v < n; ++v) {
    int out = static_cast<int>(boost::out_degree(v, g));
    int in = static_cast<int>(boost::in_degree(v, g));
    f.max_fan_out = std::max(f.max_fan_out, out);
    f.max_fan_in = std::max(f.max_fan_in, in);
    if (in == 0) ++f.sources;
    if (out == 0) ++f.sinks;
    if (out > 1) ++f.branching_layers;
  }
  f.chain = f.max_fan_out <= 1 && f.max_fan_in <= 1 && f.sources <= 1 && f.edges == std::max(0, n - 1);
  return f;
}

}  // namespace pipekit
