#include "executor/reference_training.h"

#include <set>

#include "executor/batch_source.h"
#include "executor/model_layers.h"

namespace pipekit {

ReferenceResult reference_train(const RunConfig& c) {
  const ModelSpec& m = c.model;
  std::vector<int> all(m.num_layers());
  for (int i = 0; i < m.num_layers(); ++i) all[i] = i;
  std::vector<ModelLayer> layers = build_layers(m, all, c.seed);
  if (m.tie_weights && m.kind == ModelKind::gpt) {
    ModelLayer& head = layers.back();
    *head.tied_slot = layers.front().tied_weight;
    for (auto& p : head.params)
      if (p.unsafeGetTensorImpl() == head.tied_weight.unsafeGetTensorImpl()) p = layers.front().tied_weight;
  }
  // One optimizer over the distinct parameters: Adam and SGD act element-wise,
  // so this equals one optimizer per stage.
  std::vector<torch::Tensor> unique;
  std::set<const void*> seen;
  for (auto& l : layers)
    for (auto& p : l.params)
      if (seen.insert(p.unsafeGetTensorImpl()).second) unique.push_back(p);
  auto opt = make_optimizer(c.optimizer, unique, c.lr);
  const int mbs = c.schedule.num_microbatches;
  BatchSource data(m, c.data, c.batch, c.seq, mbs, c.seed);

  ReferenceResult r;
  for (int step = 0; step < c.steps; ++step) {
    opt->zero_grad();
    double loss_sum = 0;
    for (int mb = 0; mb < mbs; ++mb) {
      MicroBatch b = data.get(step, mb);
      auto loss = scaled_loss(forward_layers(layers, input_tensor(b)), target_tensor(b), mbs);
      loss.backward();
      loss_sum += loss.item<double>();
    }
    opt->step();
    r.losses.push_back(loss_sum);
  }
  for (const auto& stage : c.stage_layers) {
    std::vector<ModelLayer> sl;
    for (int i : stage) sl.push_back(layers[i]);
    r.stage_params.push_back(flat_params(sl));
  }
  return r;
}

}  // namespace pipekit
