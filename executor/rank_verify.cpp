// RankRunner's --verify: the pipeline's parameters against one-process training.
#include <cstdio>

#include "executor/rank_runtime.h"
#include "executor/reference_training.h"

namespace pipekit {
namespace {

constexpr int kParamTag = (1 << 29) + 1024;

// The weights the optimizer updates, flattened into one fp32 vector (a copy).
torch::Tensor flat_weights(const std::vector<torch::Tensor>& weights) {
  std::vector<torch::Tensor> parts;
  for (const auto& w : weights) parts.push_back(w.detach().reshape({-1}).to(torch::kFloat));
  if (parts.empty()) return torch::zeros({0});
  return torch::cat(parts).clone();
}

}  // namespace

// Every rank ships its final stage parameters (the ones the optimizer
// updates: fp32 master weights in mixed precision) to rank 0, which trains the
// unsplit model in-process in the same precision and compares stage by stage.
int RankRunner::verify() {
  if (id_.rank != 0) {
    if (net_.replica() != 0) return 0;  // replicas take identical steps; replica 0 speaks for them
    for (auto& s : stages_) {
      std::vector<torch::Tensor> buf = {RankTransport::to_host(flat_weights(s.optimized()))};
      net_.world().send(buf, 0, kParamTag + s.stage)->wait(net_.timeout());
    }
    return 0;
  }
  ReferenceResult ref = reference_train(c_);
  bool ok = true;
  for (int s = 0; s < num_stages_; ++s) {
    torch::Tensor got;
    const int holder = layout_.rank(c_.schedule.stage_to_rank[s], 0);
    if (is_local(s)) {
      got = RankTransport::to_host(flat_weights(local(s).optimized()));
    } else {
      std::vector<torch::Tensor> buf = {torch::empty_like(ref.stage_params[s])};
      net_.world().recv(buf, holder, kParamTag + s)->wait(net_.timeout());
      got = buf[0];
    }
    const double diff = (got - ref.stage_params[s]).abs().max().item<double>();
    const double scale = ref.stage_params[s].abs().max().item<double>();
    const bool pass = diff <= c_.verify_tolerance * std::max(scale, 1e-30);
    ok = ok && pass;
    std::printf("verify: stage %d (rank %d) max |param diff| %.3g, max |param| %.3g, relative %.3g  %s\n", s,
                holder, diff, scale, diff / std::max(scale, 1e-30), pass ? "ok" : "MISMATCH");
  }
  std::printf("verify: reference losses");
  for (double l : ref.losses) std::printf(" %.6f", l);
  std::printf("\nverify: %s (tolerance %.1g relative)\n",
              ok ? "pipeline equals one-process training" : "FAILED", c_.verify_tolerance);
  if (!ok && mixed(c_.precision) && c_.replicated() && c_.optimizer == Optimizer::adam)
    std::printf(
        "verify: with replicated stages in %s, a gradient is rounded to %s per replica before the fp32 sum, "
        "where one process rounds the whole micro-batch's once; Adam's normalised update magnifies that up "
        "to "
        "--lr per step. Verify with --optimizer sgd, or at a looser --tolerance\n",
        to_string(c_.precision).c_str(), to_string(c_.precision).c_str());
  std::fflush(stdout);
  return ok ? 0 : 3;
}

}  // namespace pipekit
