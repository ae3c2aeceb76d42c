// RankRunner's STEP: tied gradients summed, replicas' gradients all-reduced,
// the ranks' agreement on overflows under loss scaling, then the stage's
// update (see rank_runtime.h). Gradients are the accumulated ones
// (LocalStage::accumulated_grad: fp32 in mixed precision).
#include <fmt/format.h>

#include <stdexcept>

#include "executor/rank_runtime.h"

namespace pipekit {
namespace {

constexpr int kTiedTag = 1 << 29;

}  // namespace

void RankRunner::step_stage(LocalStage& s, const Action& a, int step) {
  const double start = timeline_.start_compute();
  // Tied weights: both copies take the sum of their gradients, at every STEP
  // of an asynchronous stream (the first and last stage take their i-th
  // STEPs for the same micro-batches), once per step otherwise.
  if (c_.async) tied_done_ = false;
  if (s.tied_embed.defined() || s.tied_head.defined()) sum_tied_grads();
  if (net_.my_replicas() > 1) allreduce_grads(s);
  if (!scaler_.active() || !overflow_in_step(step)) update_stage(s);
  timeline_.add_compute(a, start, c_.async ? s.stash.updates() : -1, stages_);
}

// The update: loss scaling divided out, the optimizer's step on the weights it
// owns, and in mixed precision the new fp32 weights cast into the working ones.
void RankRunner::update_stage(LocalStage& s) {
  if (scaler_.active()) {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < s.params.size(); ++i)
      if (s.accumulated_grad(i).defined()) s.accumulated_grad(i).mul_(1.0 / scaler_.scale());
  }
  if (s.async) {
    s.stash.update(s.params, *s.opt);
  } else if (s.mixed) {
    s.master.zero_missing();
    s.opt->step();
    s.master.copy_to(s.params);
  } else {
    s.opt->step();
  }
}

// Every rank's flag meets the others' in one all-reduce, so every rank makes
// the same decision for the step; the first STEP of the rank's step asks, the
// others reuse the answer.
bool RankRunner::overflow_in_step(int step) {
  if (overflow_) return *overflow_;
  bool local = false;
  for (auto& s : stages_)
    for (std::size_t i = 0; i < s.params.size() && !local; ++i)
      local = has_inf_or_nan({s.accumulated_grad(i)});
  if (c_.faults.injects_inf(id_.rank, step) && !stages_.empty()) {
    auto& g = stages_.front().accumulated_grad(0);
    if (g.defined()) g.view({-1})[0] = std::numeric_limits<float>::infinity();
    local = true;
  }
  std::vector<torch::Tensor> flag = {
      torch::tensor({local ? 1.0 : 0.0, local ? static_cast<double>(id_.rank + 1) : 0.0}, torch::kFloat64)};
  net_.world().allreduce(flag, c10d::AllreduceOptions{c10d::ReduceOp::MAX})->wait(net_.timeout());
  overflow_ = flag[0][0].item<double>() > 0;
  overflow_rank_ = static_cast<int>(flag[0][1].item<double>()) - 1;
  if (*overflow_ && scaler_.mode() == LossScaler::Mode::fixed)
    throw std::runtime_error(
        fmt::format("gradients overflowed (inf/NaN on rank {}) at step {} with the fixed loss "
                    "scale {}; lower --loss-scale or use --loss-scale dynamic",
                    overflow_rank_, step + 1, scaler_.scale()));
  return *overflow_;
}

// Replicated stages: the sum of the replicas' gradients. Each replica's loss
// share is already divided by the whole micro-batch's rows (see stage_loss),
// so the sum is the full-batch gradient and every replica takes the same step.
void RankRunner::allreduce_grads(LocalStage& s) {
  std::vector<torch::Tensor> parts;
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    const torch::Tensor& g = s.accumulated_grad(i);
    parts.push_back(g.defined() ? g.reshape({-1})
                                : torch::zeros({s.params[i].numel()}, s.optimized()[i].options()));
  }
  std::vector<torch::Tensor> buf = {RankTransport::to_host(torch::cat(parts))};
  net_.replicas().allreduce(buf)->wait(net_.timeout());
  // pipedream: the replicas' micro-batches (one each) make one update, their
  // mean as PipeDream's data-parallel stages take it. 2bw: the minibatch's sum.
  if (c_.traits->update == WeightUpdate::every_microbatch)
    buf[0].div_(static_cast<double>(net_.my_replicas()));
  buf[0] = net_.to_dev(buf[0]);
  std::int64_t off = 0;
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    const std::int64_t n = s.params[i].numel();
    torch::Tensor& g = s.accumulated_grad(i);
    if (g.defined()) g.copy_(buf[0].narrow(0, off, n).view_as(g));
    off += n;
  }
}

void RankRunner::sum_tied_grads() {
  if (tied_done_ || !c_.model.tie_weights || c_.model.kind != ModelKind::gpt) return;
  tied_done_ = true;
  const int last = num_stages_ - 1;
  if (is_local(0) && is_local(last)) {
    LocalStage& first = local(0);
    LocalStage& end = local(last);
    torch::Tensor& a = first.accumulated_grad(first.tied_embed_index);
    torch::Tensor& b = end.accumulated_grad(end.tied_head_index);
    auto sum = a + b;
    a.copy_(sum);
    b.copy_(sum);
    return;
  }
  LocalStage& s = is_local(0) ? local(0) : local(last);
  torch::Tensor& mine = s.accumulated_grad(is_local(0) ? s.tied_embed_index : s.tied_head_index);
  const int peer = net_.peer(is_local(0) ? last : 0);
  std::vector<torch::Tensor> out = {RankTransport::to_host(mine).clone()};
  std::vector<torch::Tensor> in = {torch::empty_like(out[0])};
  auto sw = net_.world().send(out, peer, kTiedTag);
  auto rw = net_.world().recv(in, peer, kTiedTag);
  rw->wait(net_.timeout());
  sw->wait(net_.timeout());
  mine.add_(net_.to_dev(in[0]));
}

}  // namespace pipekit
