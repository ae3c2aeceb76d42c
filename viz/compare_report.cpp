#include "viz/compare_report.h"

#include <fmt/format.h>

#include <cstdio>

#include "core/formats.h"
#include "core/timeline_meta.h"
#include "viz/viz_outputs.h"

namespace pipekit {
namespace {

using Json = nlohmann::ordered_json;

std::string sharing_line(const Json& r) {
  const Json& cal = r["calibration"];
  if (!cal.value("shared_device", false)) return "a device per rank";
  const Json& groups = cal["shared_groups"];
  if (groups.size() == 1)
    return fmt::format("{} ranks share one {} with capacity {:.2f} ({:.2f} for optimizer steps)",
                       groups[0]["ranks"].size(), r.value("device", "cpu") == "cpu" ? "CPU" : "GPU",
                       groups[0]["capacity"].get<double>(), groups[0]["step_capacity"].get<double>());
  return fmt::format("{} groups of ranks share a GPU each", groups.size());
}

void print_row(const std::string& what, double predicted, double measured, const Json* error) {
  if (error)
    fmt::print("  {:<28} {:>12.2f} {:>12.2f} {:>+7.1f}%\n", what, predicted, measured,
               100 * error->get<double>());
  else
    fmt::print("  {:<28} {:>12.2f} {:>12.2f}\n", what, predicted, measured);
}

void print_table(const Json& r) {
  const Json& cal = r["calibration"];
  fmt::print("sim vs real: {} {} on {} ranks, {} micro-batches of {} ({}, link {:.0f} us + {:.0f} MB/s)\n",
             r["model"].get<std::string>(), r["schedule"].get<std::string>(), r["ranks"].get<int>(),
             r["microbatches"].get<int>(), r["microbatch_size"].get<int>(), sharing_line(r),
             cal["link_latency_us"].get<double>(), cal["link_bandwidth_MBps"].get<double>());
  fmt::print("  {:<28} {:>12} {:>12} {:>8}\n", "", "predicted", "measured", "error");
  const std::size_t steps = r["measured_step_times_ms"].size();
  const double measured = r["measured_step_ms"];
  const Json err = r["step_time_error"];
  const int steady_from = r.value("steady_from_microbatch", -1);
  print_row(steady_from >= 0 ? fmt::format("stream ms from micro-batch {}", steady_from)
            : steps >= 2     ? fmt::format("step ms (median of {})", steps - 1)
                             : std::string("step ms"),
            r["predicted_step_ms"], measured, &err);
  auto rel = [&](double p) { return Json(measured == 0 ? 0.0 : (p - measured) / measured); };
  if (r.contains("predicted_step_p10_ms"))
    fmt::print("  {:<28} {:>5.1f}..{:<6.1f} {:>12.2f}  {}\n", "step ms p10..p90 (spread)",
               r["predicted_step_p10_ms"].get<double>(), r["predicted_step_p90_ms"].get<double>(), measured,
               r.value("measured_in_band", false) ? "inside" : "outside");
  if (cal.value("shared_device", false)) {
    const Json e = rel(r["dedicated_step_ms"]);
    print_row("step ms (a device per rank)", r["dedicated_step_ms"], measured, &e);
  }
  print_row("step ms (run-calibrated)", r["run_calibrated_step_ms"], measured,
            &r["run_calibrated_step_time_error"]);
  for (const auto& jr : r["per_rank"]) {
    const int k = jr["rank"];
    print_row(fmt::format("rank {} busy ms", k), jr["predicted_busy_ms"], jr["measured_busy_ms"],
              &jr["busy_error"]);
    print_row(fmt::format("rank {} bubble ms", k), jr["predicted_bubble_ms"], jr["measured_bubble_ms"],
              jr.contains("bubble_error") ? &jr["bubble_error"] : nullptr);
    if (jr.contains("measured_other_threads_cpu_ms"))
      print_row(fmt::format("rank {} message CPU ms", k), jr["predicted_message_cpu_ms"],
                jr["measured_other_threads_cpu_ms"],
                jr.contains("message_cpu_error") ? &jr["message_cpu_error"] : nullptr);
    fmt::print("  {:<28} {:>12} {:>12} {:>+7.1f}%\n", fmt::format("rank {} peak activation B", k),
               jr["predicted_peak_activation_bytes"].get<std::int64_t>(),
               jr["measured_peak_activation_bytes"].get<std::int64_t>(),
               100 * jr["peak_activation_error"].get<double>());
  }
}

}  // namespace

void write_compare_report(const Json& r, const Timeline& measured, const Timeline& predicted,
                          const CompareOutputs& out) {
  write_text_file(out.json, r.dump(2) + "\n");
  write_text_file(out.predicted_timeline, timeline_to_json(predicted));
  const std::size_t steps = r["measured_step_times_ms"].size();
  const std::string model = r["model"], schedule = r["schedule"];
  const int ranks = r["ranks"];
  const double median = r["measured_step_ms"], predicted_ms = r["predicted_step_ms"];
  VizOutputs viz;
  viz.html = out.html;
  viz.title = steps >= 2 ? fmt::format(
                               "{} {} on {} ranks: measured vs predicted (median step {:.1f} ms over {} "
                               "steps, the last {:.1f} shown, vs {:.1f} ms predicted)",
                               model, schedule, ranks, median, steps - 1,
                               r["measured_last_step_ms"].get<double>(), predicted_ms)
                         : fmt::format("{} {} on {} ranks: measured vs predicted (step {:.1f} vs {:.1f} ms)",
                                       model, schedule, ranks, median, predicted_ms);
  // The report's throughput row reads samples per step from each timeline's meta.
  Timeline measured_shown = measured, predicted_shown = predicted;
  const std::string samples =
      std::to_string(r["microbatch_size"].get<long long>() * r["microbatches"].get<long long>());
  set_meta(measured_shown, RunMeta::samples_per_step, samples);
  set_meta(predicted_shown, RunMeta::samples_per_step, samples);
  auto lines = write_viz_outputs(viz, measured_shown, nullptr, &predicted_shown);
  print_table(r);
  fmt::print("compare: {} (predicted timeline: {})\n", out.json, out.predicted_timeline);
  for (const auto& l : lines) fmt::print("{}\n", l);
  std::fflush(stdout);
}

}  // namespace pipekit
