// RankRunner's --verify: the pipeline's parameters against one-process training.
#include <cstdio>
#include <string>

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
  // Two known, legitimate sources of low-precision rounding that Adam's
  // normalised update (about --lr per step, whatever the gradient's size) can
  // turn into a parameter difference of up to 2 x lr per step.
  std::string why;
  const std::string p = to_string(c_.precision);
  if (mixed(c_.precision) && c_.optimizer == Optimizer::adam) {
    if (c_.device != "cpu")
      why = "the ranks ran on " + c_.device + ", the reference on the CPU: their " + p +
            " kernels round differently";
    else if (c_.replicated())
      why = "each replica rounds its gradient to " + p + " before the fp32 sum, one process rounds it once";
  }
  if (!ok && !why.empty())
    std::printf(
        "verify: %s.\nverify: Adam magnifies that up to 2 x --lr per step: verify with --optimizer sgd, or "
        "with "
        "--tolerance %.1g (2 x lr x steps)\n",
        why.c_str(), 2.0 * c_.lr * c_.steps);
  std::fflush(stdout);
  return ok ? 0 : 3;
}

}  // namespace pipekit
