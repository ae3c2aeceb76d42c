#include "simulator/prediction_spread.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "simulator/steady_window.h"

namespace pipekit {
namespace {

void check_samples(const std::vector<double>& v, const char* what) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]) || v[i] < 0)
      throw InputError("calibration", fmt::format("{}[{}]", what, i),
                       fmt::format("sample {} must be finite and >= 0", v[i]));
}

}  // namespace

double speed_factor(const std::vector<double>& series, double sample_ms, double window_ms, int windows,
                    std::size_t start) {
  if (series.empty()) throw InputError("calibration", "speed_series", "a speed series needs samples");
  if (!(sample_ms > 0) || !std::isfinite(sample_ms))
    throw InputError("calibration", "speed_series", "a speed series' sample time must be positive");
  const std::size_t n = series.size();
  const double mean = std::accumulate(series.begin(), series.end(), 0.0) / static_cast<double>(n);
  // A window shorter than a sample is one sample; a longer one than the
  // series wraps round it, so a long window averages every state.
  const std::size_t len =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(window_ms / sample_ms)));
  const double total = mean * static_cast<double>(n);
  std::vector<double> means;
  std::size_t at = start % n;
  for (int w = 0; w < std::max(1, windows); ++w) {
    // Whole turns round the series, then the rest: at most n samples a window.
    double sum = static_cast<double>(len / n) * total;
    for (std::size_t k = 0; k < len % n; ++k) sum += series[(at + k) % n];
    means.push_back(sum / static_cast<double>(len));
    at = (at + len) % n;
  }
  std::sort(means.begin(), means.end());
  // The median of an even count is its two middle values' mean, as the
  // measured median of steps is.
  const std::size_t m = means.size();
  const double median = m % 2 ? means[m / 2] : 0.5 * (means[m / 2 - 1] + means[m / 2]);
  return mean > 0 ? median / mean : 1.0;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const std::size_t i = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

StepSpread predict_spread(const Schedule& schedule, const StageCosts& costs, const Cluster& cluster,
                          const SimOptions& options, const std::vector<SharedDevice>& shared,
                          const SpreadInputs& in) {
  if (in.draws < 1)
    throw InputError("--draws", "", fmt::format("need at least 1 Monte Carlo draw, got {}", in.draws));
  check_samples(in.compute_noise, "compute_noise");
  check_samples(in.delay_ms, "delay_ms");
  check_samples(in.receive_wait_ms, "receive_wait_ms");
  if (in.speed_sample_ms.size() != in.speed_series.size())
    throw InputError("calibration", "speed_series", "every speed series needs its sample time");
  for (const auto& s : in.speed_series) check_samples(s, "speed_series");
  const bool speed = !in.speed_series.empty() && in.speed_window_ms > 0;
  // Compute factors rescaled to mean 1: the shared-device model already
  // carries the mean slowdown of ranks sharing a processor, and the probe's
  // iterations are timed against their median, whose tail (a worker
  // descheduled) would otherwise count that slowdown twice.
  std::vector<double> noise = in.compute_noise;
  if (!noise.empty()) {
    const double mean = std::accumulate(noise.begin(), noise.end(), 0.0) / static_cast<double>(noise.size());
    if (mean > 0)
      for (double& x : noise) x /= mean;
  }
  std::mt19937_64 rng(in.seed);
  auto pick = [&](const std::vector<double>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  SimOptions opt = options;
  opt.record_timeline = false;
  opt.record_action_times = in.steady_from >= 0;
  const int ranks = static_cast<int>(schedule.actions.size());
  StepSpread out;
  std::vector<double> factors;
  for (int d = 0; d < in.draws; ++d) {
    std::vector<double> factor(static_cast<std::size_t>(ranks), 1.0);
    for (int r = 0; speed && r < ranks; ++r) {
      const std::size_t i = std::uniform_int_distribution<std::size_t>(0, in.speed_series.size() - 1)(rng);
      const std::size_t start =
          std::uniform_int_distribution<std::size_t>(0, in.speed_series[i].size() - 1)(rng);
      factor[r] = speed_factor(in.speed_series[i], in.speed_sample_ms[i], in.speed_window_ms,
                               in.speed_windows, start);
      factors.push_back(factor[r]);
    }
    opt.compute_noise.assign(ranks, {});
    opt.send_delay_ms.assign(ranks, {});
    opt.receive_wait_draw_ms.assign(ranks, {});
    for (int r = 0; r < ranks; ++r) {
      const auto& list = schedule.actions[r];
      if (!noise.empty() || speed) {
        opt.compute_noise[r].assign(list.size(), 1.0);
        for (std::size_t k = 0; k < list.size(); ++k)
          if (is_compute(list[k].type))
            opt.compute_noise[r][k] = (noise.empty() ? 1.0 : pick(noise)) * factor[r];
      }
      auto draw_per_send = [&](const std::vector<double>& samples, std::vector<double>& row) {
        if (samples.empty()) return;
        row.assign(list.size(), 0.0);
        for (std::size_t k = 0; k < list.size(); ++k)
          if (list[k].type == ActionType::SEND_F || list[k].type == ActionType::SEND_B)
            row[k] = pick(samples);
      };
      draw_per_send(in.delay_ms, opt.send_delay_ms[r]);
      draw_per_send(in.receive_wait_ms, opt.receive_wait_draw_ms[r]);
    }
    const SimulationResult r = shared.empty() ? simulate(schedule, costs, cluster, opt)
                                              : simulate_shared(schedule, costs, cluster, opt, shared).result;
    const std::optional<double> window =
        in.steady_from >= 0 ? steady_window_ms(schedule, r, in.steady_from) : std::nullopt;
    if (in.steady_from >= 0 && !window)
      throw InputError("--draws", "",
                       fmt::format("the schedule has no forward of micro-batch {} on stage 0 to start the "
                                   "steady window at",
                                   in.steady_from));
    out.steps_ms.push_back(window.value_or(r.metrics.step_time_ms));
  }
  std::sort(out.steps_ms.begin(), out.steps_ms.end());
  out.p10_ms = percentile(out.steps_ms, 0.10);
  out.p50_ms = percentile(out.steps_ms, 0.50);
  out.p90_ms = percentile(out.steps_ms, 0.90);
  if (!factors.empty()) {
    std::sort(factors.begin(), factors.end());
    out.speed_p10 = percentile(factors, 0.10);
    out.speed_p90 = percentile(factors, 0.90);
  }
  out.mean_ms = std::accumulate(out.steps_ms.begin(), out.steps_ms.end(), 0.0) /
                static_cast<double>(out.steps_ms.size());
  return out;
}

}  // namespace pipekit
