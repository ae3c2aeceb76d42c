// The states PipeDream's dynamic program runs over: down-sets of the layer DAG
// ("everything up to here"), ordered so that every state's predecessors come first.
//
// A chain gives one state per layer. A branching model gives PipeDream's antichain
// DAG: states are the augmented antichains reachable from the first source by
// PipeDream's next-antichain rule (github.com/msr-fiddle/pipedream, graph/graph.py),
// numbered in the same reverse-DFS-postorder PipeDream uses, so stage boundaries may
// cut several tensors at once; this is exact with respect to PipeDream.
// The antichain DAG can explode (inception_v3 has more than 200,000 states). When
// enumeration passes `max_states`, the model is instead condensed into a chain of
// blocks at its cut vertices (layers every source-to-sink path passes), one state
// per cut vertex. That is exact for every plan whose stage boundaries are single
// tensors (one producer feeding everything after it) and never cuts inside a
// branch: the optimum over those plans, not over all antichain cuts.
//
// Layers in `dropped` (PipeDream removes unused "__getitem__" sinks) are left out
// of every state; the caller assigns them afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/profile.h"

namespace pipekit {

struct DpStates {
  enum class Kind { chain, antichain, condensed };
  Kind kind = Kind::chain;
  int num_layers = 0;  // of the profile, dropped ones included
  // Per state, sums over the layers the state covers (its down-set):
  std::vector<double> compute_s;         // (forward + backward) / 1000: ms -> s
  std::vector<double> activation_bytes;  // output bytes (PipeDream's activation_size)
  std::vector<double> saved_bytes;
  std::vector<double> param_bytes;
  // Bytes crossing a boundary placed right after the state: the outputs of its
  // (augmented) antichain.
  std::vector<double> output_bytes;
  // Transitive predecessors of each state in the state DAG, ascending.
  std::vector<std::vector<int>> preds;
  // Down-set of each state, one bit per profile layer.
  std::vector<std::vector<std::uint64_t>> covered;
  bool is_chain_order = true;  // preds[j] == {0..j-1} for every j

  int size() const { return static_cast<int>(compute_s.size()); }
  // Layers of the state range (after state `before`, up to state `last`];
  // before == -1 means from the start.
  std::vector<int> layers_between(int before, int last) const;
};

std::string to_string(DpStates::Kind k);

// True for layers PipeDream's optimizer removes: sinks whose description (or
// kind) starts with "__getitem__".
std::vector<bool> pipedream_dropped_layers(const Profile& p);

DpStates build_dp_states(const Profile& p, const std::vector<bool>& dropped, int max_states = 4000);

}  // namespace pipekit
