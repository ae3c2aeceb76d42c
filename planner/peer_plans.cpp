#include "planner/peer_plans.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/schedule_traits.h"
#include "planner/deepspeed_partition.h"

namespace pipekit {
namespace {

// Indices of the blocks (see the header), and every layer when there are none.
std::vector<int> block_layers(const Profile& p) {
  std::vector<int> out;
  for (std::size_t i = 0; i < p.layers.size(); ++i)
    if (p.layers[i].kind == "TransformerBlock") out.push_back(static_cast<int>(i));
  if (out.empty())
    for (std::size_t i = 0; i < p.layers.size(); ++i) out.push_back(static_cast<int>(i));
  return out;
}

// Largest divisor of `devices` that is at most `limit` and (when `divides` > 0) divides it.
int depth_for(int devices, int limit, int divides) {
  for (int p = devices; p >= 1; --p)
    if (devices % p == 0 && p <= limit && (divides <= 0 || divides % p == 0)) return p;
  return 1;
}

// Stage layer lists from block counts per stage; non-block layers join neighbours.
std::vector<std::vector<int>> split_blocks(const Profile& p, const std::vector<int>& blocks,
                                           const std::vector<int>& per_stage) {
  const int n = static_cast<int>(p.layers.size());
  std::vector<int> stage_of(static_cast<std::size_t>(n), -1);
  std::size_t b = 0;
  for (std::size_t s = 0; s < per_stage.size(); ++s)
    for (int k = 0; k < per_stage[s]; ++k)
      stage_of[static_cast<std::size_t>(blocks[b++])] = static_cast<int>(s);
  // Before the first block: the first stage (embedding); after the last block:
  // the last stage (head), which may hold no block at all, as torchtitan's
  // split allows; between blocks: the stage of the block before.
  int cur = 0;
  for (int i = 0; i < n; ++i) {
    if (stage_of[static_cast<std::size_t>(i)] >= 0)
      cur = stage_of[static_cast<std::size_t>(i)];
    else
      stage_of[static_cast<std::size_t>(i)] =
          i > blocks.back() ? static_cast<int>(per_stage.size()) - 1 : cur;
  }
  std::vector<std::vector<int>> out(per_stage.size());
  for (int i = 0; i < n; ++i)
    out[static_cast<std::size_t>(stage_of[static_cast<std::size_t>(i)])].push_back(i);
  for (std::size_t s = 0; s < out.size(); ++s)
    if (out[s].empty())
      throw InputError("--peer", "", fmt::format("stage {} of {} would hold no layer", s, out.size()));
  return out;
}

// torchtitan's generate_llm_fqn_per_model_part: blocks + input + output weights
// spread evenly, the first (total mod stages) stages one more.
std::vector<int> torchtitan_blocks(int blocks, int stages, int input_weight, int output_weight) {
  const int total = blocks + input_weight + output_weight;
  const int each = total / stages, extra = total % stages;
  std::vector<int> out;
  for (int s = 0; s < stages; ++s) {
    int k = each + (s < extra ? 1 : 0);
    if (s == 0) k -= input_weight;
    if (s == stages - 1) k -= output_weight;
    if (k < 0 || (k == 0 && stages > 1 && s > 0 && s < stages - 1))
      throw InputError("--peer", "",
                       fmt::format("torchtitan's split leaves stage {} of {} without a layer", s, stages));
    out.push_back(std::max(k, 0));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& peer_names() {
  static const std::vector<std::string> names = {"megatron",   "megatron-interleaved",   "deepspeed",
                                                 "torchtitan", "torchtitan-interleaved", "torchtitan-zbv"};
  return names;
}

Plan peer_plan(const Profile& profile, const std::string& peer, const Cluster& cluster, int microbatches,
               Precision precision) {
  const int devices = cluster.num_devices();
  const std::vector<int> blocks = block_layers(profile);
  const int nb = static_cast<int>(blocks.size());
  const bool llm = nb < static_cast<int>(profile.layers.size()) || profile.layers.empty() ||
                   profile.layers.front().kind == "TransformerBlock";
  Plan plan;
  plan.model = profile.model;
  plan.microbatch_size = profile.microbatch_size;
  plan.cluster = cluster;
  plan.precision = precision;
  plan.schedule.microbatches = microbatches;
  std::vector<std::vector<int>> stages;
  int p = 1, v = 1;
  if (peer == "megatron" || peer == "megatron-interleaved") {
    v = peer == "megatron" ? 1 : 2;
    p = depth_for(devices, nb / v, nb);
    if (v == 2 && (nb % (2 * p) != 0 || p < 2))
      throw InputError(
          "--peer", "",
          fmt::format("megatron-interleaved needs the {} blocks divisible by 2 x {} stages", nb, p));
    plan.schedule.kind = v == 1 ? "1f1b" : "interleaved";
    stages = split_blocks(profile, blocks, std::vector<int>(static_cast<std::size_t>(p * v), nb / (p * v)));
  } else if (peer == "deepspeed") {
    p = depth_for(devices, static_cast<int>(profile.layers.size()), 0);
    plan.schedule.kind = "1f1b";
    std::vector<int> parts = deepspeed_partition(profile, "parameters", p);
    for (int s = 0; s < p; ++s) {
      std::vector<int> l;
      for (int i = parts[static_cast<std::size_t>(s)]; i < parts[static_cast<std::size_t>(s) + 1]; ++i)
        l.push_back(i);
      if (l.empty()) throw InputError("--peer", "", fmt::format("DeepSpeed leaves stage {} empty", s));
      stages.push_back(l);
    }
  } else if (peer == "torchtitan" || peer == "torchtitan-interleaved" || peer == "torchtitan-zbv") {
    v = peer == "torchtitan" ? 1 : 2;
    const int w = llm ? 1 : 0;
    p = depth_for(devices, (nb + 2 * w) / v, 0);
    plan.schedule.kind = peer == "torchtitan" ? "1f1b" : peer == "torchtitan-zbv" ? "zbv" : "interleaved";
    stages = split_blocks(profile, blocks, torchtitan_blocks(nb, p * v, w, w));
  } else {
    std::string names;
    for (const auto& n : peer_names()) names += (names.empty() ? "" : ", ") + n;
    throw InputError("--peer", "", fmt::format("unknown peer '{}'; choose one of: {}", peer, names));
  }
  if (v > 1 && p < 2) throw InputError("--peer", "", fmt::format("{} needs at least 2 pipeline ranks", peer));
  plan.schedule.virtual_stages = v;
  const ScheduleTraits& t = schedule_traits(plan.schedule.kind);
  const int replicas = devices / p;
  // Data parallelism as the peers run it: each of the d replicas pipelines
  // its own m/d micro-batches of the profile's size. pipekit's executor
  // splits a micro-batch among a stage's replicas, so that is m/d
  // micro-batches of d times the size (the same rows per replica, the same
  // bubble). Without a recorded size nothing can be scaled: the m micro-batches
  // are dealt out whole (PipeDream's replica model).
  if (replicas > 1 && profile.microbatch_size > 0) {
    if (microbatches % replicas != 0)
      throw InputError("--peer", "",
                       fmt::format("{} micro-batches do not divide among {} data-parallel replicas; give a "
                                   "global batch that does",
                                   microbatches, replicas));
    plan.microbatch_size = profile.microbatch_size * replicas;
    plan.schedule.microbatches = microbatches / replicas;
  }
  for (std::size_t s = 0; s < stages.size(); ++s) {
    PlanStage st;
    st.layers = stages[s];
    st.replicas = replicas;
    const int rank = stage_rank(t, static_cast<int>(s), p);
    for (int r = 0; r < replicas; ++r) st.ranks.push_back(rank * replicas + r);
    plan.stages.push_back(std::move(st));
  }
  validate(plan, "--peer", static_cast<int>(profile.layers.size()));
  return plan;
}

}  // namespace pipekit
