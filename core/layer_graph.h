// The layer DAG of a profile, held in Boost.Graph.
//
// Vertices are layer indices; edges go producer -> consumer. A profile with no
// edges is the chain 0 -> 1 -> ... -> n-1. Construction does not validate; call
// find_cycle() (or validate(profile)) first when the input is untrusted.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <optional>
#include <vector>

#include "core/profile.h"

namespace pipekit {

using LayerDag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

LayerDag build_layer_dag(const Profile& p);

// A vertex on a cycle, or nullopt when the graph is acyclic.
std::optional<int> find_cycle(const LayerDag& g);

// Layers in an order where every producer precedes its consumers.
std::vector<int> topological_order(const LayerDag& g);

struct DagFacts {
  bool chain = true;
  int sources = 0, sinks = 0;
  int max_fan_out = 0, max_fan_in = 0;
  int branching_layers = 0;  // layers with more than one consumer
  int edges = 0;
};
DagFacts dag_facts(const LayerDag& g);

}  // namespace pipekit
