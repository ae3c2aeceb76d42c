// RankRunner's compute actions: F, R, B, I, W (see rank_runtime.h).
#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "executor/rank_runtime.h"

namespace pipekit {
namespace {

torch::Tensor graph_output(const LocalStage& s, int mb, int rank) {
  torch::Tensor out = s.output.at(mb);
  if (!out.requires_grad())
    throw std::runtime_error(
        fmt::format("rank {}: backward of stage {} micro-batch {} has no autograd graph "
                    "(the schedule recomputes this stage but has no R before it)",
                    rank, s.stage, mb));
  return out;
}

}  // namespace

torch::Tensor RankRunner::rows(torch::Tensor t) const {
  if (net_.my_replicas() <= 1 || c_.async) return t;
  const std::int64_t n = t.size(0);
  return t.narrow(0, layout_.first_row(prank_, net_.replica(), n), layout_.slice_rows(prank_, n))
      .contiguous();
}

// The last stage's loss of micro-batch `mb`. A replica's mean over its 1/r of
// the rows is divided by r: its share of the micro-batch's mean, so gradients
// and losses add up over replicas. Loss scaling multiplies it (and so every
// gradient) by the scale; the update divides it out.
torch::Tensor RankRunner::stage_loss(const torch::Tensor& out, int step, int mb) const {
  torch::Tensor loss =
      scaled_loss(out, net_.to_dev(rows(target_tensor(batch(step, mb)))), c_.loss_divisor, loss_);
  if (net_.my_replicas() > 1 && !c_.async) loss = loss / static_cast<double>(net_.my_replicas());
  return loss;
}

void RankRunner::forward(LocalStage& s, int mb, int step) {
  torch::Tensor in;
  if (s.first) {
    in = working_input(net_.to_dev(rows(input_tensor(batch(step, mb)))), working_dtype(c_.precision));
  } else if (is_local(s.stage - 1)) {
    auto& prev = local(s.stage - 1);
    in = prev.output.at(mb).detach().requires_grad_(true);
    if (prev.recompute) prev.output.erase(mb);  // R rebuilds it; keep only the input meanwhile
  } else {
    in = net_.take_recv(s.stage, mb, ActionType::RECV_F, timeline_).requires_grad_(true);
  }
  int version = -1;
  if (c_.async) {
    try {
      version = s.stash.begin_forward(mb);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("rank {}: F of stage {}: {}", id_.rank, s.stage, e.what()));
    }
    s.stash.load(s.params, version);
  }
  const double start = timeline_.start_compute();
  torch::Tensor out;
  {
    std::optional<torch::NoGradGuard> no_grad;
    if (s.recompute) no_grad.emplace();
    out = forward_layers(s.layers, in);
    if (s.last) {
      out = stage_loss(out, step, mb);
      mb_loss_[mb] = out.item<double>();
      if (scaler_.active()) out = out * scaler_.scale();
    }
  }
  // The first stage whose output is NaN/inf for a micro-batch is where it appeared.
  if (!torch::isfinite(out).all().item<bool>())
    throw std::runtime_error(
        fmt::format("non-finite {} (NaN or inf) at step {}, stage {} (rank {}), micro-batch {}; "
                    "lower --lr or check the data",
                    s.last ? "loss" : "activations", c_.async ? mb / c_.minibatch_mbs + 1 : step + 1, s.stage,
                    id_.rank, mb));
  s.input[mb] = in;
  s.output[mb] = out;
  timeline_.add_compute(Action{s.stage, ActionType::F, mb}, start, version, stages_);
}

void RankRunner::recompute(LocalStage& s, int mb, int step) {
  if (c_.async) s.stash.load(s.params, s.stash.version_of(mb));
  const double start = timeline_.start_compute();
  torch::Tensor out = forward_layers(s.layers, s.input.at(mb));
  if (s.last) {
    out = stage_loss(out, step, mb);
    if (scaler_.active()) out = out * scaler_.scale();
  }
  s.output[mb] = out;
  timeline_.add_compute(Action{s.stage, ActionType::R, mb}, start, -1, stages_);
}

torch::Tensor RankRunner::output_grad(LocalStage& s, int mb) {
  if (s.last) return {};
  if (is_local(s.stage + 1)) {
    auto& next = local(s.stage + 1);
    torch::Tensor g = next.grad_in.at(mb);
    next.grad_in.erase(mb);
    return g;
  }
  return net_.take_recv(s.stage, mb, ActionType::RECV_B, timeline_);
}

void RankRunner::backward(LocalStage& s, int mb) {
  torch::Tensor grad = output_grad(s, mb);
  const int version = c_.async ? s.stash.version_of(mb) : -1;
  if (c_.async) s.stash.load(s.params, version);  // the backward sees the weights its forward used
  const double start = timeline_.start_compute();
  torch::Tensor out = graph_output(s, mb, id_.rank);
  if (s.last)
    out.backward();
  else
    out.backward(grad);
  if (!s.first) s.grad_in[mb] = s.input.at(mb).grad();
  s.fold_grads();
  s.input.erase(mb);
  s.output.erase(mb);
  if (c_.async) s.stash.end_backward(mb);
  timeline_.add_compute(Action{s.stage, ActionType::B, mb}, start, version, stages_);
}

// Zero-bubble I: only the gradient of the stage input (sent upstream at once);
// the graph is kept for W.
void RankRunner::input_grad(LocalStage& s, int mb) {
  torch::Tensor grad = output_grad(s, mb);
  const double start = timeline_.start_compute();
  torch::Tensor out = graph_output(s, mb, id_.rank);
  if (!s.first) {
    std::vector<torch::Tensor> go;
    if (grad.defined()) go.push_back(grad);
    auto g = torch::autograd::grad({out}, {s.input.at(mb)}, go, /*retain_graph=*/true);
    s.grad_in[mb] = g[0];
  }
  s.out_grad[mb] = grad;
  timeline_.add_compute(Action{s.stage, ActionType::I, mb}, start, -1, stages_);
}

// Zero-bubble W: the parameter gradients, accumulated into .grad as B would.
void RankRunner::weight_grad(LocalStage& s, int mb) {
  auto it = s.out_grad.find(mb);
  if (it == s.out_grad.end())
    throw std::runtime_error(
        fmt::format("rank {}: W of stage {} micro-batch {} before its I", id_.rank, s.stage, mb));
  const double start = timeline_.start_compute();
  torch::Tensor out = graph_output(s, mb, id_.rank);
  std::vector<torch::Tensor> go;
  if (it->second.defined()) go.push_back(it->second);
  auto gs = torch::autograd::grad({out}, s.params, go, /*retain_graph=*/false, /*create_graph=*/false,
                                  /*allow_unused=*/true);
  for (std::size_t i = 0; i < gs.size(); ++i) {
    if (!gs[i].defined()) continue;
    auto& p = s.params[i];
    if (p.grad().defined())
      p.mutable_grad().add_(gs[i]);
    else
      p.mutable_grad() = gs[i].clone();  // autograd may hand out views; zero_grad must own it
  }
  s.fold_grads();
  s.out_grad.erase(it);
  s.input.erase(mb);
  s.output.erase(mb);
  timeline_.add_compute(Action{s.stage, ActionType::W, mb}, start, -1, stages_);
}

}  // namespace pipekit
