#include "executor/sim_vs_real.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/formats.h"
#include "core/timeline_merge.h"
#include "core/timeline_meta.h"
#include "executor/calibration_probes.h"
#include "executor/layer_profiler.h"
#include "executor/tensor_data.h"
#include "simulator/memory_model.h"
#include "simulator/run_calibration_json.h"
#include "simulator/run_prediction.h"
#include "simulator/steady_window.h"
#include "viz/compare_report.h"

namespace pipekit {
namespace {

using Json = nlohmann::ordered_json;

double rel_error(double predicted, double measured) {
  if (measured == 0) return predicted == 0 ? 0 : std::numeric_limits<double>::infinity();
  return (predicted - measured) / measured;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a;
  f >> a;
  return a.empty() ? "unknown" : a;
}

Profile run_profile(const RunConfig& c, const CompareOptions& o, int mb_rows) {
  if (!o.profile_path.empty()) return profile_from_json(read_text_file(o.profile_path), o.profile_path);
  ProfilerOptions po;
  po.model = c.model;
  po.microbatch = mb_rows;
  po.seq = c.seq;
  po.threads = c.threads;
  po.repeat = o.repeat;
  po.seed = c.seed;
  po.progress = !c.quiet;
  po.device = c.device;
  po.cpu_time = c.device == "cpu";
  po.precision = c.precision;
  po.optimizer = c.optimizer;  // the run's step, per layer (the calibration re-measures the largest stage's)
  if (is_tensor_data(c.data)) po.data = c.data;  // the profile measures the run's own inputs
  po.loss = c.loss;
  return profile_model(po);
}

// The measured step: the median over the run's steps after the first (the
// first includes warm-up), which moves less than any single step on a shared
// machine. Asynchronous streams are one step.
double measured_step_ms(const Timeline& measured, const std::vector<double>& all_steps) {
  if (all_steps.size() < 2) return measured.step_time_ms;
  std::vector<double> steady(all_steps.begin() + 1, all_steps.end());
  std::sort(steady.begin(), steady.end());
  const std::size_t n = steady.size();
  return n % 2 ? steady[n / 2] : (steady[n / 2 - 1] + steady[n / 2]) / 2;
}

// The window compared: the whole (last measured) step, or from the first
// forward of `steady_from` on (asynchronous streams, simulator/steady_window.h).
SteadyWindow compared_window(const Timeline& t, int steady_from, const std::string& side) {
  if (steady_from < 0) return timeline_window(t, 0);
  const std::optional<SteadyWindow> w = steady_window(t, steady_from);
  if (!w)
    throw InputError(side, "$.events",
                     fmt::format("the {} stream has no forward of micro-batch {} on stage 0; the comparison "
                                 "starts its steady window there",
                                 side, steady_from));
  return *w;
}

Json rank_row(int r, const RunPrediction& p, const Timeline& measured, const SteadyWindow& pw,
              const SteadyWindow& mw) {
  const double step = pw.length_ms;
  const double pred_busy = pw.busy_ms[r];
  const double measured_busy = mw.busy_ms[r];
  const std::int64_t m_act =
      static_cast<std::int64_t>(meta_number(measured, RankMeta::peak_activation_bytes, r).value_or(-1));
  Json jr;
  jr["rank"] = r;
  jr["predicted_busy_ms"] = pred_busy;
  jr["measured_busy_ms"] = measured_busy;
  jr["busy_error"] = rel_error(pred_busy, measured_busy);
  // Busy time split: the processor's work (thread CPU time measured; the
  // profile's cost predicted) and the rest, time the rank's compute thread
  // was runnable but had no core. A busy error is one or the other: the code
  // ran slower than profiled, or the ranks shared the cores more than modelled.
  if (mw.work_ms[r] >= 0 && pw.work_ms[r] >= 0) {
    jr["predicted_work_ms"] = pw.work_ms[r];
    jr["measured_work_ms"] = mw.work_ms[r];
    jr["work_error"] = rel_error(pw.work_ms[r], mw.work_ms[r]);
    jr["predicted_core_wait_ms"] = pred_busy - pw.work_ms[r];
    jr["measured_core_wait_ms"] = measured_busy - mw.work_ms[r];
  }
  jr["predicted_bubble_ms"] = step - pred_busy;
  jr["measured_bubble_ms"] = mw.length_ms - measured_busy;
  // Idle time's own error: busy can be right while idle is wrong (or the two
  // errors cancel in the step), and only the components show it.
  if (mw.length_ms - measured_busy > 0)
    jr["bubble_error"] = rel_error(step - pred_busy, mw.length_ms - measured_busy);
  jr["predicted_bubble_fraction"] = (step - pred_busy) / step;
  jr["measured_bubble_fraction"] = (mw.length_ms - measured_busy) / mw.length_ms;
  jr["predicted_peak_activation_bytes"] = p.activation_peaks[r];
  jr["measured_peak_activation_bytes"] = m_act;
  jr["simulator_peak_activation_bytes"] = p.simulator_peaks[r];
  jr["peak_activation_error"] =
      rel_error(static_cast<double>(p.activation_peaks[r]), static_cast<double>(m_act));
  // Pages the rank first touched inside the measured step: thousands say the
  // measurement includes warm-up.
  if (auto faults = meta_number(measured, RankMeta::page_faults, r))
    jr["measured_page_faults"] = static_cast<std::int64_t>(*faults);
  // Messaging's processor time: the overhead charged per message end against
  // what the rank's other threads (Gloo's transport) used.
  int ends = 0;
  double charged = 0;  // each end at its own size
  for (const auto& e : measured.events)
    if (e.rank == r && (e.stream == Stream::send || e.stream == Stream::recv)) {
      ++ends;
      charged += message_end_ms(p, e.bytes);
    }
  jr["message_ends"] = ends;
  jr["predicted_message_cpu_ms"] = charged;
  if (auto ms = meta_number(measured, RankMeta::other_threads_cpu_ms, r)) {
    jr["measured_other_threads_cpu_ms"] = *ms;
    if (*ms > 0) jr["message_cpu_error"] = rel_error(charged, *ms);
  }
  return jr;
}

Json calibration_json(const RunCalibration& cal, const RunPrediction& p, const RunCalibrated& rc,
                      const Profile& prof, const CompareOptions& o, int ranks) {
  Json j;
  const bool shared = !cal.shared.empty();
  j["shared_device"] = shared;
  j["shared_capacity"] = shared ? cal.shared[0].capacity : static_cast<double>(ranks);
  j["shared_groups"] = Json::array();
  for (const auto& d : cal.shared)
    j["shared_groups"].push_back(
        {{"ranks", d.ranks}, {"capacity", d.capacity}, {"step_capacity", d.step_capacity}});
  j["shared_step_capacity"] = shared ? cal.shared[0].step_capacity : static_cast<double>(ranks);
  j["corun_step_alone_per_s"] = cal.corun_step_alone_per_s;
  j["corun_step_together_per_s"] = cal.corun_step_together_per_s;
  j["corun_alone_per_s"] = cal.corun_alone_per_s;
  j["corun_together_per_s"] = cal.corun_together_per_s;
  j["simulation_rounds"] = p.simulation.rounds;
  j["run_compute_stretch"] = rc.compute_stretch;
  j["run_message_delay_us"] = rc.message_delay_s * 1e6;
  j["logical_cores"] = logical_cores();
  double wall_over_cpu = 1;
  if (auto it = prof.meta.find("wall_over_cpu"); it != prof.meta.end()) wall_over_cpu = std::stod(it->second);
  j["profiler_wall_over_cpu"] = wall_over_cpu;
  j["link_latency_us"] = cal.link_latency_s * 1e6;
  j["message_bytes"] = cal.message_bytes;
  if (cal.loaded_transport_cpu_s > 0)  // measured: a shared CPU with readable scheduler statistics
    j["loaded_transport_cpu_per_message_us"] = cal.loaded_transport_cpu_s * 1e6;
  j["loaded_message_delay_us"] = cal.loaded_delay_s * 1e6;
  j["probe_load_duty"] = cal.load_duty;  // the share of time the probes' other ranks computed
  j["message_cpu_us"] = cal.message_cpu_s * 1e6;
  j["message_overhead_per_end_us"] = p.message_overhead_ms * 1e3;
  j["message_overhead_per_end_per_KiB_us"] = p.message_overhead_per_byte_ms * 1e3 * 1024;
  j["end_cpu_fitted"] = cal.end_cpu_fitted;
  j["sweep_bytes"] = cal.sweep_bytes;
  j["sweep_end_cpu_us"] = Json::array();
  for (double v : cal.sweep_end_cpu_s) j["sweep_end_cpu_us"].push_back(v * 1e6);
  j["sweep_transport_cpu_us"] = Json::array();
  for (double v : cal.sweep_transport_cpu_s) j["sweep_transport_cpu_us"].push_back(v * 1e6);
  j["sweep_delay_us"] = Json::array();
  for (double v : cal.sweep_delay_s) j["sweep_delay_us"].push_back(v * 1e6);
  j["delay_samples_us"] = Json::array();
  for (double v : cal.delay_samples_s) j["delay_samples_us"].push_back(v * 1e6);
  j["compute_noise"] = cal.compute_noise;
  // The whole calibration, for `pipekit simulate --calibration` on plans not run.
  j["model"] = Json::parse(calibration_to_json(cal));
  j["receive_wait_us"] = cal.receive_wait_s * 1e6;
  j["receive_wait_samples_us"] = Json::array();
  for (double v : cal.receive_wait_samples_s) j["receive_wait_samples_us"].push_back(v * 1e6);
  j["link_bandwidth_MBps"] = cal.link_bandwidth_bytes_per_s / 1e6;
  j["host_staging_MBps"] = cal.host_staging_bytes_per_s / 1e6;      // 0: not staged
  j["weight_copy_MBps"] = p.options.weight_copy_bytes_per_s / 1e6;  // 0: not an asynchronous schedule
  j["optimizer_step_ms"] = cal.optimizer_step_ms;                   // measured, on the largest stage
  j["stage_step_ms"] = Json::array();  // each stage's before sharing (weight copies included)
  for (const auto& st : p.costs.stages) j["stage_step_ms"].push_back(st.step_ms);
  j["profile"] = o.profile_path.empty() ? "measured now" : o.profile_path;
  j["profile_forward_ms"] = totals(prof).forward_ms;
  j["profile_backward_ms"] = totals(prof).backward_ms;
  j["load_average_1min"] = load_average();
  j["cpu"] = cpu_model_name();
  j["torch"] = TORCH_VERSION;
  return j;
}

}  // namespace

std::string predicted_timeline_path(const std::string& out) {
  return out + ".predicted-timeline.json";
}

std::string compare_timeline_path(const std::string& out) {
  return out + ".measured-timeline.json";
}

void check_compare_options(const RunConfig& c, const CompareOptions& o) {
  if (o.out.empty()) throw InputError("--compare", "", "give the JSON file to write the comparison to");
  if (c.replicated())
    throw InputError("--replicas", "",
                     "--compare predicts straight pipelines only (one replica per stage); drop "
                     "--replicas or compare without it");
  if (!c.async && c.steps - c.start_step < 2)
    throw InputError("--steps", "",
                     fmt::format("--compare needs this run to make at least 2 steps (it makes {}): the "
                                 "first includes warm-up (lazy optimizer state, allocator growth), so the "
                                 "measured step is the median of the steps after it",
                                 c.steps - c.start_step));
  if (!o.profile_path.empty()) {
    Profile p = profile_from_json(read_text_file(o.profile_path), o.profile_path);
    if (static_cast<int>(p.layers.size()) != c.model.num_layers())
      throw InputError(
          o.profile_path, "$.layers",
          fmt::format("the profile has {} layers but {} has {}; profile this model with pipekit profile",
                      p.layers.size(), c.model.name, c.model.num_layers()));
    if (p.precision() != c.precision)
      throw InputError(o.profile_path, "$.dtype",
                       fmt::format("the profile was measured in {}, this run trains in {}; profile with "
                                   "--precision {}, or drop --profile to measure one now",
                                   p.dtype, to_string(c.precision), to_string(c.precision)));
  }
}

int compare_with_simulation(const RunConfig& c, const CompareOptions& o) {
  const Schedule& sch = c.schedule;
  const int ranks = sch.num_ranks;
  // Asynchronous schedules run `steps` minibatches in one stream.
  const int mb_rows = c.batch / std::max(1, c.async ? c.minibatch_mbs : sch.num_microbatches);
  const Timeline measured = timeline_from_json(read_text_file(c.timeline_path), c.timeline_path);
  const Profile prof = run_profile(c, o, mb_rows);
  StageCosts base = stage_costs_from_layers(prof, c.stage_layers, mb_rows);
  count_received_inputs(sch, base);
  const RunCalibration cal = calibrate_run(c, base, measured, ProbeOptions{o.capacity, o.corun_window_s});
  // An asynchronous stream of two or more minibatches is compared from its
  // second minibatch on: the first pays warm-up, as a synchronous run's first step does.
  const int steady_from = c.async && sch.num_microbatches >= 2 * c.minibatch_mbs ? c.minibatch_mbs : -1;
  // The measured step is the median of the steps after the first: the
  // spread's speed draws span as many.
  const std::vector<double> all_steps = step_times_ms(measured);
  const int windows = all_steps.size() >= 2 ? static_cast<int>(all_steps.size()) - 1 : 1;
  const RunPrediction p =
      predict_run(sch, base, cal, mb_rows, c.optimizer, c.precision, o.draws, o.seed, steady_from, windows);
  const RunCalibrated rc = calibrate_on_run(sch, p, cal, measured, steady_from);
  Timeline predicted = p.simulation.result.timeline;
  predicted.source = "predicted";
  set_meta(predicted, RunMeta::step_spread_ms,
           fmt::format("{:.4f} {:.4f} {:.4f}", p.spread.p10_ms, p.spread.p50_ms, p.spread.p90_ms));

  const SteadyWindow pw = compared_window(predicted, steady_from, "predicted");
  const SteadyWindow mw = compared_window(measured, steady_from, c.timeline_path);
  const double measured_ms = steady_from >= 0 ? mw.length_ms : measured_step_ms(measured, all_steps);
  const double predicted_ms = pw.length_ms;
  Json j;
  j["format"] = "pipekit-sim-vs-real/1";
  j["model"] = c.model.name;
  j["schedule"] = sch.kind;
  j["device"] = c.device;
  j["precision"] = to_string(c.precision);
  j["ranks"] = ranks;
  j["stages"] = sch.num_stages;
  j["microbatches"] = sch.num_microbatches;
  j["microbatch_size"] = mb_rows;
  j["seq"] = c.seq;
  j["threads_per_rank"] = c.threads;
  j["predicted_step_ms"] = predicted_ms;
  j["measured_step_ms"] = measured_ms;
  j["step_time_error"] = rel_error(predicted_ms, measured_ms);
  j["measured_step_times_ms"] = all_steps;
  // >= 0: an asynchronous stream compared from this micro-batch's first forward on
  j["steady_from_microbatch"] = steady_from;
  j["measured_first_step"] = c.start_step + 1;  // the step measured_step_times_ms starts at
  j["measured_last_step_ms"] = measured.step_time_ms;
  j["dedicated_step_ms"] = p.dedicated_step_ms;  // what the same plan would take with a device per rank
  // The spread: where the run should land, and whether it did.
  j["predicted_step_p10_ms"] = p.spread.p10_ms;
  j["predicted_step_p50_ms"] = p.spread.p50_ms;
  j["predicted_step_p90_ms"] = p.spread.p90_ms;
  j["spread_draws"] = p.spread.steps_ms.size();
  j["spread_seed"] = o.seed;
  j["spread_speed_p10"] = p.spread.speed_p10;  // the machine-speed factors drawn (1: none)
  j["spread_speed_p90"] = p.spread.speed_p90;
  j["spread_speed_windows"] = steady_from >= 0 ? 1 : windows;
  j["measured_in_band"] = measured_ms >= p.spread.p10_ms && measured_ms <= p.spread.p90_ms;
  j["run_calibrated_step_ms"] = rc.step_ms;
  j["run_calibrated_step_time_error"] = rel_error(rc.step_ms, measured_ms);
  double worst_mem = 0;
  for (int r = 0; r < ranks; ++r) {
    Json jr = rank_row(r, p, measured, pw, mw);
    worst_mem = std::max(worst_mem, std::abs(jr["peak_activation_error"].get<double>()));
    j["per_rank"].push_back(std::move(jr));
  }
  j["worst_peak_activation_error"] = worst_mem;
  j["calibration"] = calibration_json(cal, p, rc, prof, o, ranks);
  CompareOutputs out;
  out.json = o.out;
  out.predicted_timeline = predicted_timeline_path(o.out);
  out.html = o.html.empty() ? (o.out.size() > 5 && o.out.substr(o.out.size() - 5) == ".json"
                                   ? o.out.substr(0, o.out.size() - 5) + ".html"
                                   : o.out + ".html")
                            : o.html;
  write_compare_report(j, measured, predicted, out);
  return 0;
}

}  // namespace pipekit
