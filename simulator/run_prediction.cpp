#include "simulator/run_prediction.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/schedule_traits.h"
#include "simulator/calibrated_model.h"
#include "simulator/memory_model.h"
#include "simulator/steady_window.h"

namespace pipekit {
namespace {

StageCosts stretched(const StageCosts& base, double s) {
  StageCosts c = base;
  for (auto& st : c.stages) {
    if (st.step_ms >= 0) st.step_ms *= s;
    st.forward_ms *= s;
    st.backward_ms *= s;
    st.input_grad_ms *= s;
    st.weight_grad_ms *= s;
    st.recompute_ms *= s;
  }
  return c;
}

// Each stage's step: the optimizer's and the copies' passes over the weights
// are memory-bound, so the largest stage's step scales with weight bytes.
void set_step_costs(StageCosts& costs, const RunCalibration& cal, bool async) {
  const double largest = static_cast<double>(costs.stages.at(cal.largest_stage).param_bytes);
  for (auto& st : costs.stages) {
    const double share = largest > 0 ? static_cast<double>(st.param_bytes) / largest : 1.0;
    st.step_ms = cal.optimizer_step_ms * share;
    if (async && cal.weight_copy_bytes_per_s > 0)
      st.step_ms += 3.0 * static_cast<double>(st.param_bytes) / cal.weight_copy_bytes_per_s * 1e3;
  }
}

// The mean delay between a message's availability and its receiver having it:
// a receive's end minus the latest of the matching send's posting, the
// receive's posting and the end of the rank's compute before it (receives are
// posted ahead, so a message that arrived while the rank computed cost no wait).
double mean_message_delay_s(const Timeline& measured, double floor_s) {
  std::map<std::tuple<int, int, int>, double> send_posted;  // (stage, mb, type)
  std::map<int, std::vector<double>> compute_ends;          // rank -> sorted compute ends
  for (const auto& e : measured.events) {
    if (e.stream == Stream::send)
      send_posted[{e.action.stage, e.action.microbatch, static_cast<int>(e.action.type)}] = e.start_ms;
    if (e.stream == Stream::compute) compute_ends[e.rank].push_back(e.end_ms);
  }
  for (auto& [r, v] : compute_ends) std::sort(v.begin(), v.end());
  double sum = 0;
  int n = 0;
  for (const auto& e : measured.events) {
    if (e.stream != Stream::recv) continue;
    const bool fwd = e.action.type == ActionType::RECV_F;
    auto it = send_posted.find({fwd ? e.action.stage - 1 : e.action.stage + 1, e.action.microbatch,
                                static_cast<int>(fwd ? ActionType::SEND_F : ActionType::SEND_B)});
    if (it == send_posted.end()) continue;
    double waited_from = std::max(e.start_ms, it->second);
    const auto& ends = compute_ends[e.rank];
    auto before = std::upper_bound(ends.begin(), ends.end(), e.end_ms);
    if (before != ends.begin()) waited_from = std::max(waited_from, *std::prev(before));
    sum += std::max(0.0, e.end_ms - waited_from);
    ++n;
  }
  return n ? std::max(floor_s, sum / n / 1e3) : floor_s;
}

}  // namespace

double message_end_ms(const RunPrediction& p, std::int64_t bytes) {
  return p.message_overhead_ms + p.message_overhead_per_byte_ms * static_cast<double>(bytes);
}

RunPrediction predict_run(const Schedule& sch, const StageCosts& base, const RunCalibration& cal,
                          int microbatch_rows, Optimizer optimizer, Precision precision, int draws,
                          std::uint64_t seed, int steady_from, int measured_windows) {
  const int ranks = sch.num_ranks;
  const bool async = schedule_traits_or_custom(sch.kind).asynchronous();
  RunPrediction p;
  p.costs = base;
  SimOptions& so = p.options;
  so.microbatch_size = microbatch_rows;
  so.optimizer = optimizer;
  so.precision = precision;
  if (async) so.weight_copy_bytes_per_s = cal.weight_copy_bytes_per_s;
  set_step_costs(p.costs, cal, async);
  so.step_ms = p.costs.stages.at(cal.largest_stage).step_ms;  // every stage has its own; kept consistent
  const CalibratedModel model = calibrated_model(cal, ranks);
  apply_overheads(model, so);
  p.cluster = model.cluster;
  const bool shared_cpu = !cal.shared.empty() && cal.cpu;
  p.message_overhead_ms = so.message_overhead_ms;
  p.message_overhead_per_byte_ms = so.message_overhead_per_byte_ms;
  p.simulation = simulate_shared(sch, p.costs, p.cluster, so, cal.shared);
  SpreadInputs in = model.draws;
  in.draws = draws;
  in.seed = seed;
  in.steady_from = steady_from;
  // The speed draws span what the run's measured value spans: its median of
  // that many steps, or its one steady window.
  in.speed_windows = steady_from >= 0 ? 1 : std::max(1, measured_windows);
  in.speed_window_ms = p.simulation.result.metrics.step_time_ms;
  if (steady_from >= 0)
    if (const auto w = steady_window(p.simulation.result.timeline, steady_from))
      in.speed_window_ms = w->length_ms;
  p.spread = predict_spread(sch, p.costs, model.draw_cluster, so, cal.shared, in);
  // A device per rank: no sharing, and the idle link's latency (the
  // processor time per message is the calibrated one: an idle ping-pong's
  // includes waits a busy rank does not pay).
  p.dedicated_step_ms = p.simulation.dedicated_step_ms;
  if (shared_cpu || steady_from >= 0) {
    SimOptions alone = so;
    alone.record_timeline = false;
    alone.record_action_times = steady_from >= 0;
    const SimulationResult r = simulate(
        sch, p.costs,
        shared_cpu ? flat_cluster(ranks, cal.link_bandwidth_bytes_per_s, cal.link_latency_s) : p.cluster,
        alone);
    p.dedicated_step_ms = r.metrics.step_time_ms;
    if (steady_from >= 0)
      p.dedicated_step_ms = steady_window_ms(sch, r, steady_from).value_or(p.dedicated_step_ms);
  }
  // Memory. The simulator counts a receive buffer only while its transfer
  // runs; the executor allocates it when the RECV is posted. Both are
  // reported; the executor-order replay is the prediction compared.
  const auto& transient = cal.step_transient_bytes;
  p.simulator_peaks.assign(ranks, 0);
  for (const auto& m : p.simulation.result.timeline.memory)
    if (m.rank >= 0 && m.rank < ranks)
      p.simulator_peaks[m.rank] = std::max(p.simulator_peaks[m.rank], m.activations + m.buffers);
  for (int r = 0; r < ranks && r < static_cast<int>(transient.size()); ++r)
    p.simulator_peaks[r] = std::max(p.simulator_peaks[r], transient[r]);
  p.activation_peaks = executor_order_peaks(sch, p.costs, transient);
  // Asynchronous schedules stash older weight versions during the stream; the
  // meter counts them above the stream's starting bytes.
  const std::vector<std::int64_t> extra = extra_version_bytes(sch, p.costs);
  for (int r = 0; r < ranks; ++r) p.activation_peaks[r] += extra[r];
  return p;
}

RunCalibrated calibrate_on_run(const Schedule& sch, const RunPrediction& p, const RunCalibration& cal,
                               const Timeline& measured, int steady_from) {
  // The run's compute events include what messaging took from them, so the
  // stretch is measured and applied without the per-message overhead.
  SimOptions calibrated = p.options;
  calibrated.record_timeline = false;
  calibrated.message_overhead_ms = 0;
  calibrated.message_overhead_per_byte_ms = 0;
  double model_busy = 0, run_busy = 0;
  const std::optional<SteadyWindow> run_window =
      steady_from >= 0 ? steady_window(measured, steady_from) : std::nullopt;
  for (double b : run_window ? run_window->busy_ms : timeline_window(measured, 0).busy_ms) run_busy += b;
  if (run_window) {
    SimOptions timed = calibrated;
    timed.record_timeline = true;
    const std::optional<SteadyWindow> model_window =
        steady_window(simulate(sch, p.costs, p.cluster, timed).timeline, steady_from);
    for (double b : model_window ? model_window->busy_ms : std::vector<double>{}) model_busy += b;
  } else {
    for (const auto& r : simulate(sch, p.costs, p.cluster, calibrated).metrics.ranks) model_busy += r.busy_ms;
  }
  RunCalibrated out;
  out.compute_stretch = model_busy > 0 ? run_busy / model_busy : 1;
  out.message_delay_s = mean_message_delay_s(measured, cal.link_latency_s);
  calibrated.step_ms *= out.compute_stretch;
  calibrated.record_action_times = run_window.has_value();
  const SimulationResult r =
      simulate(sch, stretched(p.costs, out.compute_stretch),
               flat_cluster(sch.num_ranks, cal.link_bandwidth_bytes_per_s, out.message_delay_s), calibrated);
  out.step_ms = r.metrics.step_time_ms;
  if (run_window) out.step_ms = steady_window_ms(sch, r, steady_from).value_or(out.step_ms);
  return out;
}

}  // namespace pipekit
