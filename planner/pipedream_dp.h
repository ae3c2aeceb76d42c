// PipeDream's planner (Narayanan et al., SOSP 2019): split a model into stages and
// give each stage replicas so that the slowest stage's time per minibatch is
// smallest. Asynchronous (PipeDream-style) pipelines: stages overlap, so the
// pipeline runs at the pace of its slowest stage.
//
// Recurrence (over the states of planner/antichain_dag.h, level by level,
// innermost level first): A[i][j][m] is the best time for the states i..j on m+1
// machines of the level. One stage on r machines costs (compute + all-reduce)/r,
// all-reduce = 4 (r-1) params / (r bandwidth); a boundary transfer costs
// 2 bytes / (r bandwidth) and overlaps compute (max, not sum). Level l+1 sees each
// segment's level-l optimum on all level-l machines as that segment's compute
// time: a level-(l+1) stage occupies whole level-l machines.
//
// CostModel::pipedream reproduces optimizer_graph_hierarchical.py exactly,
// quirks included: the stashed-memory estimate (activations + params) times
// ceil(machines downstream / replicas) with 0 for the last stage, a single-stage
// all-reduce divided by the machines inside a higher-level machine while a split
// stage's is not, transfers counted only with a compression ratio. Ties between
// equally good plans may be broken differently (PipeDream iterates a Python set).
// CostModel::pipekit uses one all-reduce formula everywhere, always counts
// transfers (bandwidth 0 = free links) and checks memory per device at the
// innermost level as params x (2 + optimizer_factor) (weights, gradients, optimizer
// state) + saved activations x ceil(machines from the stage to the end / replicas),
// the micro-batches in flight under PipeDream's 1F1B.
//
// Cost: the levels below the top fill their tables, at most O(sum over states
// of |preds| x machines^2) each (all segment starts), cut down by exact
// pruning: compute C on r machines (each holding w devices) takes at least
// C / (r w), a replicated stage adds at least 2 params / bandwidth, a transfer at
// least 2 bytes / (r bandwidth); against the best plan so far that bounds the
// split point and the replica count from both sides. Segment starts are solved
// in parallel threads. The top level needs only the optimum of the whole model,
// so with many machines (LastLevel::automatic: over 64 on a chain, over 15 on an
// antichain DAG) it is solved as a bottleneck problem instead, by bisection on
// the answer (planner/pipedream_bottleneck.h): about 20 feasibility probes of
// O(sum over states of |preds|) each, independent of the machine count, with the
// same optimum bit for bit. Same answers as PipeDream (up to ties), e.g. resnet50
// on 8x2 in ~0.15 s where PipeDream's Python takes ~2 min; a 512-layer chain on
// one flat level of 1,024 devices in ~0.11 s, on 8 x 128 in ~0.25 s
// (bench/RESULTS.md, "Planner").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/profile.h"
#include "planner/antichain_dag.h"

namespace pipekit {

enum class CostModel { pipedream, pipekit };
enum class LastLevel { automatic, table, bisection };

struct PipeDreamOptions {
  std::vector<int> machines;       // per level, innermost first (e.g. {8, 16})
  std::vector<double> bandwidths;  // bytes/s per level; 0 = free links
  CostModel cost_model = CostModel::pipekit;
  bool straight = false;               // no replication: one machine per stage
  bool fewer_machines = false;         // a solution may leave machines idle
  std::optional<double> memory_bytes;  // per machine; nullopt: no limit
  bool count_transfers = true;         // PipeDream without --activation_compression_ratio: false
  double compression_ratio = 1.0;      // activation bytes are divided by it
  double optimizer_factor = 2.0;       // pipekit memory model: core/precision.h's static_memory_factor
  int max_antichain_states = 4000;     // beyond this, condense (see antichain_dag.h)
  // How the last (outermost) level is solved: its table like the levels below,
  // or the bisection of planner/pipedream_bottleneck.h. Same optimum; ties may
  // pick different plans. automatic: the table where it is cheaper (up to 64
  // machines on a chain, up to 15 on an antichain DAG, whose table prunes less).
  LastLevel last_level = LastLevel::automatic;
};

struct DpStage {
  std::vector<int> layers;  // profile layer indices
  int replicas = 1;         // devices in total (product over levels)
  double compute_s = 0;     // compute per minibatch on one device, all layers of the stage
  double param_bytes = 0;
  double memory_bytes = 0;  // the cost model's per-device estimate
};

struct DpResult {
  std::vector<DpStage> stages;      // pipeline order; replicas' devices consecutive
  double time_per_minibatch_s = 0;  // the DP's optimum
  double single_device_s = 0;       // all compute on one device
  double data_parallel_s = 0;       // data-parallel estimate on all devices (PipeDream's formula;
                                    // pipekit: no division of outer all-reduces by inner machines)
  int devices_used = 0;
  int num_states = 0;
  DpStates::Kind graph = DpStates::Kind::chain;
};

// Throws InputError (source "--devices", "--bandwidth", "--memory") for invalid
// options and when no plan fits the memory limit.
DpResult pipedream_partition(const Profile& p, const PipeDreamOptions& o);

}  // namespace pipekit
