#include "executor/reference_training.h"

#include <map>
#include <set>

#include "executor/batch_source.h"
#include "executor/loss_scaler.h"
#include "executor/master_weights.h"
#include "executor/model_layers.h"
#include "passes/round_robin.h"

namespace pipekit {

namespace {

// Asynchronous schedules, in one process and stream order: micro-batch g is
// computed with every stage s at weight version v_s(g) (its forward and
// backward alike, as weight stashing promises), and the gradient feeds that
// stage's next update of its newest weights.
//   pipedream: v_s(g) = the number of STEPs of stage s before F(s, g) in the
//              schedule (the newest weights when F ran); an update after every g.
//   2bw:       v(g) = max(t - 1, 0) for minibatch t = g / m, on every stage:
//              W(t+1) = W(t) - lr * grad f_t(W(t-1)); an update after each minibatch.
// Replicated stages (r replicas, micro-batch g dealt to replica g mod r):
//   pipedream: a replica's STEPs are those after its own Bs, each all-reducing
//              with the others', so update q of the stage is the mean of the
//              gradients of micro-batches qr..qr+r-1; v_s(g) counts the STEPs
//              of g's replica before F(s, g).
//   2bw:       unchanged: the all-reduce sums the minibatch's micro-batches.
ReferenceResult async_reference_train(const RunConfig& c) {
  const Schedule& sch = c.schedule;
  const int S = sch.num_stages, n = sch.num_microbatches, m = c.minibatch_mbs;
  std::vector<int> reps(S);
  for (int s = 0; s < S; ++s) reps[s] = c.replica_counts().at(sch.stage_to_rank[s]);
  std::vector<std::vector<int>> version(S, std::vector<int>(n, 0));
  const bool every_microbatch = c.traits->update == WeightUpdate::every_microbatch;
  if (every_microbatch) {
    for (std::size_t g = 0; g < sch.actions.size(); ++g) {
      const auto& list = sch.actions[g];
      const auto owners = round_robin_owners(list, c.replica_counts().at(g), true);
      std::map<std::pair<int, int>, int> steps;  // (stage, replica) -> STEPs so far
      for (std::size_t i = 0; i < list.size(); ++i) {
        const Action& a = list[i];
        if (a.type == ActionType::STEP) ++steps[{a.stage, owners[i]}];
        if (a.type == ActionType::F) version[a.stage][a.microbatch] = steps[{a.stage, owners[i]}];
      }
    }
  } else {
    for (int s = 0; s < S; ++s)
      for (int g = 0; g < n; ++g) version[s][g] = std::max(g / m - 1, 0);
  }
  std::vector<std::vector<ModelLayer>> stages;
  std::vector<std::vector<torch::Tensor>> params, master;
  std::vector<std::vector<std::vector<torch::Tensor>>> history;  // stage -> version -> weights
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts;
  std::vector<ModelLayer> all;
  const bool low = mixed(c.precision);
  const torch::ScalarType dt = working_dtype(c.precision);
  for (const auto& idx : c.stage_layers) {
    stages.push_back(build_layers(c.model, idx, c.seed));
    if (low) cast_layers(stages.back(), dt);
    std::vector<torch::Tensor> p, mst, v0;
    for (auto& l : stages.back()) {
      all.push_back(l);
      for (auto& t : l.params) {
        p.push_back(t);
        mst.push_back(t.detach().to(torch::kFloat).clone().requires_grad_(true));
        v0.push_back(t.detach().clone());
      }
    }
    params.push_back(p);
    master.push_back(mst);
    history.push_back({v0});
    opts.push_back(make_optimizer(c.optimizer, master.back(), c.lr));
  }
  // Tied weights: the embedding's copy on the first stage and the head's on
  // the last; every update gives both the sum of their gradients.
  int tied_first = -1, tied_last = -1;
  if (c.model.tie_weights && c.model.kind == ModelKind::gpt) {
    auto find = [&](int s, bool head) {
      int i = 0;
      for (auto& l : stages[s])
        for (auto& t : l.params) {
          if (l.tied_weight.defined() && static_cast<bool>(l.tied_slot) == head &&
              t.unsafeGetTensorImpl() == l.tied_weight.unsafeGetTensorImpl())
            return i;
          ++i;
        }
      return -1;
    };
    tied_first = find(0, false);
    tied_last = find(S - 1, true);
  }
  BatchSource data(c.model, c.data, c.batch, c.seq, m, c.seed);
  const LossFunction loss_fn = LossFunction::parse(c.loss, "--loss");
  std::vector<std::vector<torch::Tensor>> acc(S);  // mixed precision: fp32 gradient sums
  for (int s = 0; s < S; ++s) acc[s].resize(params[s].size());
  ReferenceResult r;
  r.losses.assign(c.steps, 0.0);
  for (int g = 0; g < n; ++g) {
    {
      torch::NoGradGuard no_grad;
      for (int s = 0; s < S; ++s)
        for (std::size_t i = 0; i < params[s].size(); ++i)
          params[s][i].copy_(history[s].at(version[s][g])[i]);
    }
    MicroBatch b = data.get(g / m, g % m);
    auto loss = scaled_loss(forward_layers(all, working_input(input_tensor(b), dt)), target_tensor(b),
                            c.loss_divisor, loss_fn);
    loss.backward();
    r.losses[g / m] += loss.item<double>() * c.loss_divisor / m;
    // Mixed precision: each backward's gradients are added into fp32 at once, as the pipeline folds them.
    if (low)
      for (int s = 0; s < S; ++s)
        for (std::size_t i = 0; i < params[s].size(); ++i) {
          auto& pg = params[s][i].mutable_grad();
          if (!pg.defined()) continue;
          acc[s][i] = acc[s][i].defined() ? acc[s][i] + pg.to(torch::kFloat) : pg.to(torch::kFloat);
          pg.reset();
        }
    std::vector<bool> update(S);
    for (int s = 0; s < S; ++s) {
      update[s] = every_microbatch ? (g + 1) % reps[s] == 0 : (g + 1) % m == 0;
      if (!update[s]) continue;
      const double div = every_microbatch ? reps[s] : 1.0;  // pipedream replicas: their mean
      for (std::size_t i = 0; i < params[s].size(); ++i) {
        auto& p = params[s][i];
        torch::Tensor& gsum = low ? acc[s][i] : p.mutable_grad();
        master[s][i].mutable_grad() = gsum.defined() ? gsum / div : torch::zeros_like(master[s][i]);
        if (low)
          gsum.reset();
        else if (gsum.defined())
          gsum.zero_();
      }
    }
    if (tied_first >= 0 && tied_last >= 0 && update[0] && update[S - 1]) {
      torch::Tensor sum = master[0][tied_first].grad() + master[S - 1][tied_last].grad();
      master[0][tied_first].mutable_grad() = sum.clone();
      master[S - 1][tied_last].mutable_grad() = sum.clone();
    }
    for (int s = 0; s < S; ++s) {
      if (!update[s]) continue;
      opts[s]->step();
      std::vector<torch::Tensor> w;
      for (auto& t : master[s]) w.push_back(t.detach().to(dt).clone());
      history[s].push_back(std::move(w));
    }
  }
  // The pipeline's stages end holding their newest weights in the optimizer's copy.
  for (int s = 0; s < S; ++s) {
    std::vector<torch::Tensor> flat;
    for (auto& t : master[s]) flat.push_back(t.detach().reshape({-1}));
    r.stage_params.push_back(torch::cat(flat));
  }
  return r;
}

}  // namespace

ReferenceResult reference_train(const RunConfig& c) {
  if (c.async) return async_reference_train(c);
  const ModelSpec& m = c.model;
  const bool low = mixed(c.precision);
  std::vector<int> all(m.num_layers());
  for (int i = 0; i < m.num_layers(); ++i) all[i] = i;
  std::vector<ModelLayer> layers = build_layers(m, all, c.seed);
  const bool tied = m.tie_weights && m.kind == ModelKind::gpt;
  // fp32: the head really uses the embedding's table. Mixed precision keeps
  // the two copies, as the pipeline does, and sums their fp32 gradients at
  // the step: summing the two uses in the low precision would differ.
  if (tied && !low) {
    ModelLayer& head = layers.back();
    *head.tied_slot = layers.front().tied_weight;
    for (auto& p : head.params)
      if (p.unsafeGetTensorImpl() == head.tied_weight.unsafeGetTensorImpl()) p = layers.front().tied_weight;
  }
  if (low) cast_layers(layers, working_dtype(c.precision));
  // One optimizer over the distinct parameters: Adam and SGD act element-wise,
  // so this equals one optimizer per stage.
  std::vector<torch::Tensor> unique;
  std::map<const void*, std::size_t> index;
  for (auto& l : layers)
    for (auto& p : l.params)
      if (index.emplace(p.unsafeGetTensorImpl(), unique.size()).second) unique.push_back(p);
  MasterWeights master = low ? MasterWeights(unique) : MasterWeights();
  auto opt = make_optimizer(c.optimizer, low ? master.tensors() : unique, c.lr);
  auto grad = [&](std::size_t i) -> torch::Tensor& {
    return low ? master.grad(i) : unique[i].mutable_grad();
  };
  int tied_a = -1, tied_b = -1;
  if (tied && low) {
    tied_a = static_cast<int>(index.at(layers.front().tied_weight.unsafeGetTensorImpl()));
    tied_b = static_cast<int>(index.at(layers.back().tied_weight.unsafeGetTensorImpl()));
  }
  LossScaler scaler =
      LossScaler::parse(c.loss_scaling, c.loss_scale_init, c.loss_scale_window, "--loss-scale");
  const int mbs = c.schedule.num_microbatches;  // flush schedules: one minibatch per step
  BatchSource data(m, c.data, c.batch, c.seq, mbs, c.seed);
  const LossFunction loss_fn = LossFunction::parse(c.loss, "--loss");

  ReferenceResult r;
  for (int step = 0; step < c.steps; ++step) {
    opt->zero_grad();
    if (low) master.begin_accumulation();
    double loss_sum = 0;
    for (int mb = 0; mb < mbs; ++mb) {
      MicroBatch b = data.get(step, mb);
      auto x = working_input(input_tensor(b), working_dtype(c.precision));
      auto loss = scaled_loss(forward_layers(layers, x), target_tensor(b), mbs, loss_fn);
      loss_sum += loss.item<double>();
      (scaler.active() ? loss * scaler.scale() : loss).backward();
      if (low) master.fold(unique, true);
    }
    if (tied_a >= 0) {
      auto sum = grad(tied_a) + grad(tied_b);
      grad(tied_a).copy_(sum);
      grad(tied_b).copy_(sum);
    }
    bool overflow = false;
    if (scaler.active()) {
      for (std::size_t i = 0; i < unique.size() && !overflow; ++i) overflow = has_inf_or_nan({grad(i)});
      overflow = overflow || c.faults.injects_inf_at(step);
    }
    if (!overflow) {
      if (scaler.active())
        for (std::size_t i = 0; i < unique.size(); ++i)
          if (grad(i).defined()) grad(i).mul_(1.0 / scaler.scale());
      if (low) master.zero_missing();
      opt->step();
      if (low) master.copy_to(unique);
    }
    scaler.record(overflow);
    r.losses.push_back(loss_sum);
  }
  // Per stage, the weights the optimizer updates (fp32 masters in mixed precision).
  for (const auto& stage : c.stage_layers) {
    std::vector<torch::Tensor> flat;
    for (int i : stage)
      for (auto& p : layers[i].params) {
        const std::size_t k = index.at(p.unsafeGetTensorImpl());
        flat.push_back((low ? master.tensors()[k] : unique[k]).detach().reshape({-1}).to(torch::kFloat));
      }
    r.stage_params.push_back(flat.empty() ? torch::zeros({0}) : torch::cat(flat).clone());
  }
  return r;
}

}  // namespace pipekit
