// RankRunner's STEP: tied gradients summed, replicas' gradients all-reduced,
// then the stage's update (see rank_runtime.h).
#include <fmt/format.h>

#include "executor/rank_runtime.h"

namespace pipekit {
namespace {

constexpr int kTiedTag = 1 << 29;

}  // namespace

void RankRunner::step_stage(LocalStage& s, const Action& a) {
  const double start = timeline_.now_ms();
  // Tied weights: both copies take the sum of their gradients, at every STEP
  // of an asynchronous stream (the first and last stage take their i-th
  // STEPs for the same micro-batches), once per step otherwise.
  if (c_.async) tied_done_ = false;
  if (s.tied_embed.defined() || s.tied_head.defined()) sum_tied_grads();
  if (net_.my_replicas() > 1) allreduce_grads(s);
  if (c_.async)
    s.stash.update(s.params, *s.opt);
  else
    s.opt->step();
  timeline_.add_compute(a, start, c_.async ? s.stash.updates() : -1, stages_);
}

// Replicated stages: the sum of the replicas' gradients. Each replica's loss
// share is already divided by the whole micro-batch's rows (see stage_loss),
// so the sum is the full-batch gradient and every replica takes the same step.
void RankRunner::allreduce_grads(LocalStage& s) {
  std::vector<torch::Tensor> parts;
  for (auto& p : s.params)
    parts.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
  std::vector<torch::Tensor> buf = {RankTransport::to_host(torch::cat(parts))};
  net_.replicas().allreduce(buf)->wait(net_.timeout());
  // pipedream: the replicas' micro-batches (one each) make one update, their
  // mean as PipeDream's data-parallel stages take it. 2bw: the minibatch's sum.
  if (c_.traits->update == WeightUpdate::every_microbatch)
    buf[0].div_(static_cast<double>(net_.my_replicas()));
  buf[0] = net_.to_dev(buf[0]);
  std::int64_t off = 0;
  for (auto& p : s.params) {
    const std::int64_t n = p.numel();
    if (p.grad().defined()) p.mutable_grad().copy_(buf[0].narrow(0, off, n).view_as(p));
    off += n;
  }
}

void RankRunner::sum_tied_grads() {
  if (tied_done_ || !c_.model.tie_weights || c_.model.kind != ModelKind::gpt) return;
  tied_done_ = true;
  const int last = num_stages_ - 1;
  if (is_local(0) && is_local(last)) {
    auto& a = local(0).tied_embed;
    auto& b = local(last).tied_head;
    auto sum = a.grad() + b.grad();
    a.mutable_grad().copy_(sum);
    b.mutable_grad().copy_(sum);
    return;
  }
  auto& mine = is_local(0) ? local(0).tied_embed : local(last).tied_head;
  const int peer = net_.peer(is_local(0) ? last : 0);
  std::vector<torch::Tensor> out = {RankTransport::to_host(mine.grad()).clone()};
  std::vector<torch::Tensor> in = {torch::empty_like(out[0])};
  auto sw = net_.world().send(out, peer, kTiedTag);
  auto rw = net_.world().recv(in, peer, kTiedTag);
  rw->wait(net_.timeout());
  sw->wait(net_.timeout());
  mine.mutable_grad().add_(net_.to_dev(in[0]));
}

}  // namespace pipekit
