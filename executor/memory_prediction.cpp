#include "executor/memory_prediction.h"

#include <torch/torch.h>

#include "executor/batch_source.h"
#include "executor/memory_meter.h"
#include "executor/model_layers.h"
#include "simulator/memory_model.h"
#include "simulator/stage_costs.h"

namespace pipekit {
namespace {

std::int64_t bytes_of(const torch::Tensor& t) {
  return static_cast<std::int64_t>(t.numel() * t.element_size());
}

Profile probe_profile(const RunConfig& c) {
  memory_meter::install();
  std::vector<int> all(c.model.num_layers());
  for (int i = 0; i < c.model.num_layers(); ++i) all[i] = i;
  std::vector<ModelLayer> layers = build_layers(c.model, all, c.seed);
  BatchSource data(c.model, c.data, c.batch, c.seq, c.minibatch_mbs, c.seed);
  torch::Tensor x = input_tensor(data.get(0, 0));
  Profile p;
  p.model = c.model.name;
  p.microbatch_size = c.batch / c.minibatch_mbs;
  p.input_bytes = bytes_of(x);
  std::vector<torch::Tensor> keep;  // every layer's graph stays alive, so deltas are per layer
  for (auto& l : layers) {
    if (x.is_floating_point()) x = x.detach().requires_grad_(true);
    const std::int64_t before = memory_meter::live_bytes();
    torch::Tensor y = l.forward(x);
    Layer out;
    out.name = "layer" + std::to_string(p.layers.size());
    out.forward_ms = 1;
    out.backward_ms = 2;
    for (auto& t : l.params) out.param_bytes += bytes_of(t);
    out.output_bytes = bytes_of(y);
    out.saved_bytes = std::max<std::int64_t>(0, memory_meter::live_bytes() - before);
    p.layers.push_back(out);
    keep.push_back(y);
    x = y;
  }
  return p;
}

}  // namespace

std::vector<PredictedRankMemory> predict_memory(const RunConfig& c) {
  Profile profile = probe_profile(c);
  StageCosts costs = stage_costs_from_layers(profile, c.stage_layers, profile.microbatch_size);
  const std::vector<int> counts = c.replica_counts();
  auto replicas_of = [&](int stage) { return counts.at(c.schedule.stage_to_rank[stage]); };
  for (int s = 0; s < c.schedule.num_stages; ++s)
    apply_replicas(costs.stages[s], c.traits, s, c.schedule.num_stages, c.minibatch_mbs, replicas_of(s));
  count_received_inputs(c.schedule, costs);
  const std::vector<std::int64_t> act = executor_order_peaks(c.schedule, costs, {});
  const std::vector<std::int64_t> extra = extra_version_bytes(c.schedule, costs);
  std::vector<PredictedRankMemory> out(c.schedule.num_ranks);
  for (int rank = 0; rank < c.schedule.num_ranks; ++rank) {
    int versions = 1;
    for (int s = 0; s < c.schedule.num_stages; ++s)
      if (c.schedule.stage_to_rank[s] == rank)
        versions = std::max(versions, weight_versions(*c.traits, s, c.schedule.num_stages, replicas_of(s)));
    out[rank].activations = act[rank];
    out[rank].extra_versions = extra[rank];
    out[rank].weight_versions = versions;
  }
  return out;
}

}  // namespace pipekit
