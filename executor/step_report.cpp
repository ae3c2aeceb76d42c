#include "executor/step_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "executor/memory_prediction.h"

namespace pipekit {

void StepReport::open() {
  if (rank_ != 0 || c_.metrics_path.empty()) return;
  metrics_.open(c_.metrics_path);
  if (!metrics_) throw std::runtime_error("cannot write --metrics file " + c_.metrics_path);
  if (c_.start_step == 0) return;
  // A resumed run starts with the checkpoint it continues from, and the newer
  // ones it passed over and why, in the per-step lines' style.
  const ResumeChoice& r = c_.resume_choice;
  auto quoted = [](const std::string& v) {
    return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  std::vector<std::string> passed;
  for (const auto& p : r.passed_over)
    passed.push_back(fmt::format("{{\"checkpoint\": {}, \"why\": {}}}", quoted(p.dir), quoted(p.why)));
  metrics_ << fmt::format(
      "{{\"event\": \"resume\", \"step\": {}, \"checkpoint\": {}, \"fell_back\": {}, \"passed_over\": "
      "[{}]}}\n",
      r.step, quoted(r.dir), r.fell_back() ? "true" : "false", fmt::join(passed, ", "));
  metrics_.flush();
}

std::vector<double> StepReport::step_losses(const std::map<int, double>& mb_loss) const {
  if (!c_.async) {
    double sum = 0;
    for (auto& [mb, l] : mb_loss) sum += l;
    return {sum};
  }
  const int m = c_.minibatch_mbs;
  std::vector<double> out(c_.steps, 0.0);
  for (auto& [mb, l] : mb_loss) out.at(mb / m) += l * c_.loss_divisor / m;
  return out;
}

void StepReport::publish_losses(int step, std::vector<double>& losses, RankTransport& net) const {
  if (net.my_replicas() > 1) {  // the sum of the replicas' shares
    std::vector<torch::Tensor> buf = {torch::tensor(losses, torch::kFloat64)};
    net.replicas().allreduce(buf)->wait(net.timeout());
    for (std::size_t k = 0; k < losses.size(); ++k) losses[k] = buf[0][k].item<double>();
  }
  if (rank_ == 0 || net.replica() != 0) return;
  std::string v;
  for (double l : losses) v += fmt::format("{:.9g} ", l);
  net.store().set("pipekit/loss/" + std::to_string(step), std::vector<std::uint8_t>(v.begin(), v.end()));
}

std::vector<double> StepReport::fetch_losses(int step, RankTransport& net) const {
  auto v = net.store().get("pipekit/loss/" + std::to_string(step));
  std::istringstream in(std::string(v.begin(), v.end()));
  std::vector<double> losses;
  for (double l; in >> l;) losses.push_back(l);
  return losses;
}

void StepReport::print_step(int step, const std::vector<double>& losses, double all_ms, std::int64_t peak_act,
                            const StepOutcome& outcome) {
  total_ms_ += all_ms;
  // A resumed stream prints the minibatches after its checkpoint.
  const std::size_t first = c_.async ? static_cast<std::size_t>(c_.start_step) : 0;
  const double ms = all_ms / static_cast<double>(losses.size() - first);
  const double sps = c_.batch / (ms / 1000.0);
  for (std::size_t k = first; k < losses.size(); ++k) {
    const int shown = c_.async ? static_cast<int>(k) + 1 : step + 1;
    if (!c_.quiet)
      std::printf("step %d/%d  loss %.6f  %.1f ms  %.1f samples/s  peak activations (rank 0) %.1f KiB\n",
                  shown, c_.steps, losses[k], ms, sps, static_cast<double>(peak_act) / 1024.0);
    if (outcome.skipped && !c_.quiet)
      std::printf(
          "step %d/%d  update skipped on every rank: inf/NaN gradients (rank %d); loss scale %g -> %g\n",
          shown, c_.steps, outcome.overflow_rank, outcome.loss_scale,
          outcome.next_loss_scale.value_or(outcome.loss_scale));
    if (metrics_) {
      const std::string scaling = outcome.scaled
                                      ? fmt::format(", \"loss_scale\": {}, \"update_skipped\": {}",
                                                    outcome.loss_scale, outcome.skipped ? "true" : "false")
                                      : std::string();
      metrics_ << fmt::format(
          "{{\"step\": {}, \"loss\": {:.9g}, \"step_time_ms\": {:.3f}, \"samples_per_s\": {:.3f}, "
          "\"tokens_per_s\": {:.3f}, \"peak_activation_bytes_rank0\": {}{}}}\n",
          shown, losses[k], ms, sps, c_.model.input() == InputKind::tokens ? sps * c_.seq : 0.0, peak_act,
          scaling);
      metrics_.flush();
    }
  }
  std::fflush(stdout);
}

void StepReport::print_done() const {
  if (rank_ != 0 || c_.quiet) return;
  const int done = c_.steps - c_.start_step;
  std::printf("done: %d steps, mean %.1f ms/step, %.1f samples/s\n", done, total_ms_ / done,
              c_.batch * done / (total_ms_ / 1000.0));
  if (!c_.timeline_path.empty()) std::printf("timeline: %s\n", c_.timeline_path.c_str());
  if (!c_.metrics_path.empty()) std::printf("metrics: %s\n", c_.metrics_path.c_str());
}

void StepReport::write_progress(int step) const {
  if (c_.progress_dir.empty()) return;
  const std::string path = fmt::format("{}/rank{}", c_.progress_dir, rank_);
  {
    std::ofstream out(path + ".tmp");
    out << step << "\n";
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

void StepReport::print_weights_kept(const std::vector<LocalStage>& stages) const {
  if (!c_.async || c_.quiet) return;
  for (const auto& s : stages)
    std::printf("weights: stage %d (rank %d) kept up to %zu weight version(s) (%.1f KiB each), %d updates\n",
                s.stage, rank_, s.stash.max_versions(), static_cast<double>(param_bytes(s)) / 1024.0,
                s.stash.updates());
}

void StepReport::compare_memory(int step, std::int64_t peak_act, const std::vector<LocalStage>& stages,
                                RankTransport& net, const ReplicaLayout& layout) const {
  std::int64_t params = 0;
  std::size_t versions = 1;
  for (const auto& s : stages) {
    params += param_bytes(s);
    versions = std::max(versions, c_.async ? s.stash.max_versions() : std::size_t{1});
  }
  const std::string key = "pipekit/memory/" + std::to_string(step) + "/";
  const std::string mine = fmt::format("{} {} {}", peak_act, versions, params);
  if (rank_ != 0) {
    net.store().set(key + std::to_string(rank_), std::vector<std::uint8_t>(mine.begin(), mine.end()));
    return;
  }
  if (step != (c_.async ? 0 : c_.steps - 1)) return;
  std::vector<PredictedRankMemory> pred = predict_memory(c_);
  std::printf("memory: %s, %d micro-batches of %d, %s; dynamic = activations + weight versions beyond one\n",
              c_.schedule.kind.c_str(), c_.minibatch_mbs, c_.batch / c_.minibatch_mbs,
              to_string(c_.optimizer).c_str());
  std::printf(
      "memory: rank  measured KiB  versions  predicted KiB  (activations + extra versions)  versions\n");
  for (int r = 0; r < net.world().getSize(); ++r) {
    std::string v = mine;
    if (r != 0) {
      auto b = net.store().get(key + std::to_string(r));
      v.assign(b.begin(), b.end());
    }
    std::istringstream in(v);
    long long act = 0, n = 0, pb = 0;
    in >> act >> n >> pb;
    const auto& p = pred.at(layout.group_of(r));
    std::printf("memory: %4d  %12.1f  %8lld  %13.1f  (%.1f + %.1f)  %8d\n", r, act / 1024.0, n,
                (p.activations + p.extra_versions) / 1024.0, p.activations / 1024.0,
                p.extra_versions / 1024.0, p.weight_versions);
  }
  std::fflush(stdout);
}

}  // namespace pipekit
