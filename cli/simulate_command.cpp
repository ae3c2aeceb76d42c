// pipekit simulate: predict a schedule's step time, bubbles and memory.
//
// Costs come from a plan (and its profile), a profile split into stages, or
// synthetic per-rank times; the schedule is generated (--schedule) or read
// (--schedule-csv / --schedule-file). Generated schedules are lowered (SEND/RECV
// added) before simulation, as the executor would run them.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/command.h"
#include "cli/text_table.h"
#include "core/error.h"
#include "core/formats.h"
#include "core/schedule_traits.h"
#include "core/timeline_meta.h"
#include "core/units.h"
#include "passes/lowering.h"
#include "planner/schedule_costs.h"
#include "planner/schedule_generator.h"
#include "profiles/pipedream_graph.h"
#include "profiles/profile_precision.h"
#include "simulator/calibrated_model.h"
#include "simulator/prediction_spread.h"
#include "simulator/run_calibration_json.h"
#include "simulator/shared_device.h"
#include "simulator/simulator.h"
#include "viz/terminal_chart.h"
#include "viz/viz_outputs.h"

namespace pipekit::cli {
namespace {

struct SimulateOptions {
  std::string plan, profile, stages;
  int synthetic = 0;
  double fwd = -1, bwd = -1, wgrad = -1;
  std::string schedule, recompute;
  int microbatches = 0, virtual_stages = 0, minibatches = 0, microbatch_size = 0;
  std::string bandwidth, memory, activation_bytes, saved_bytes, param_bytes;
  double latency = -1;
  std::string schedule_csv, schedule_file, write_schedule, timeline;
  std::string optimizer = "adam";
  std::string precision;  // "": the plan's, else the profile's, else fp32
  bool allow_precision_mismatch = false;
  bool json = false, unlowered = false;
  int width = 100;
  double shared_capacity = 0;  // > 0: all ranks share one device of this capacity
  std::string calibration;     // a machine's calibration (run --compare JSON or pipekit-calibration/1)
  int draws = 200;
  std::uint64_t spread_seed = 2024;
  VizOutputs viz;
};

std::int64_t bytes_flag(const std::string& text, const std::string& flag) {
  auto v = parse_bytes(text);
  if (!v)
    throw InputError(flag, "", fmt::format("'{}' is not a size; give bytes like 4096, 16MiB or 1.5GB", text));
  return static_cast<std::int64_t>(std::llround(*v));
}

// "0-3,4-7,8" -> layer lists; "N" -> N stages with layers split evenly by count.
std::vector<std::vector<int>> parse_stages(const std::string& text, int num_layers) {
  std::vector<std::vector<int>> out;
  const bool plain = text.find_first_not_of("0123456789") == std::string::npos && !text.empty();
  if (plain) {
    long n = std::stol(text);
    if (n < 1 || n > num_layers)
      throw InputError(
          "--stages", "",
          fmt::format("{} stages cannot split {} layers; give 1..{} stages", n, num_layers, num_layers));
    for (long s = 0; s < n; ++s) {
      std::vector<int> layers;
      for (long l = s * num_layers / n; l < (s + 1) * num_layers / n; ++l)
        layers.push_back(static_cast<int>(l));
      out.push_back(layers);
    }
    return out;
  }
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int a = -1, b = -1;
    char dash = 0, extra = 0;
    int got = std::sscanf(part.c_str(), "%d%c%d%c", &a, &dash, &b, &extra);
    if (got == 1)
      b = a;
    else if (got != 3 || dash != '-')
      throw InputError(
          "--stages", "",
          fmt::format("'{}' is not a layer range; write ranges like \"0-3,4-7\" or a stage count", part));
    if (a < 0 || b < a || b >= num_layers)
      throw InputError(
          "--stages", "",
          fmt::format("range {}-{} is outside the profile's layers 0..{}", a, b, num_layers - 1));
    std::vector<int> layers;
    for (int l = a; l <= b; ++l) layers.push_back(l);
    out.push_back(layers);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

void run_simulate(const SimulateOptions& o) {
  const int sources = (!o.plan.empty()) + (!o.profile.empty() && o.plan.empty()) + (o.synthetic > 0);
  if (sources == 0)
    throw InputError(
        "simulate", "",
        "give the costs: --plan FILE, --profile FILE --stages SPEC, or --synthetic P --fwd F --bwd B");
  if (!o.plan.empty() && o.synthetic > 0)
    throw InputError("--synthetic", "", "--plan and --synthetic are alternatives; give one");
  if (!o.profile.empty() && o.synthetic > 0)
    throw InputError("--synthetic", "", "--profile and --synthetic are alternatives; give one");
  if (!o.schedule_csv.empty() && !o.schedule_file.empty())
    throw InputError("--schedule-csv", "", "give --schedule-csv or --schedule-file, not both");
  if (o.synthetic > 0 && (o.fwd < 0 || o.bwd < 0))
    throw InputError("--synthetic", "",
                     "synthetic costs need --fwd MS and --bwd MS per micro-batch per rank");
  if (o.synthetic <= 0 && (o.fwd >= 0 || o.bwd >= 0 || o.wgrad >= 0))
    throw InputError("--fwd", "", "--fwd/--bwd/--wgrad only apply with --synthetic P");
  if (!o.plan.empty() && (!o.bandwidth.empty() || o.latency >= 0))
    throw InputError("--bandwidth", "",
                     "a plan carries its cluster; drop --bandwidth/--latency or drop --plan");
  if (!o.stages.empty() && (o.profile.empty() || !o.plan.empty()))
    throw InputError("--stages", "", "--stages splits a --profile; without --plan");
  if (!o.profile.empty() && o.plan.empty() && o.stages.empty())
    throw InputError("--profile", "", "say how to split the profile: --stages \"0-3,4-7\" or --stages N");
  if (!o.activation_bytes.empty() && o.synthetic <= 0)
    throw InputError("--activation-bytes", "",
                     "--activation-bytes only applies with --synthetic (profiles carry sizes)");
  Optimizer optimizer;
  if (!optimizer_from_string(o.optimizer, optimizer))
    throw InputError("--optimizer", "",
                     fmt::format("unknown optimizer '{}'; choose adam, momentum or sgd", o.optimizer));

  // The schedule spec: from the plan, overridden by flags.
  Plan plan;
  Profile profile;
  ScheduleSpec spec;
  if (!o.plan.empty()) {
    plan = plan_from_json(read_text_file(o.plan), o.plan);
    spec = plan.schedule;
    if (!o.precision.empty() && parse_precision(o.precision, "--precision") != plan.precision)
      throw InputError("--precision", o.plan,
                       fmt::format("the plan was made for {}, --precision asks for {}; plan again with "
                                   "--precision {}, or drop --precision",
                                   to_string(plan.precision), o.precision, o.precision));
  }
  const bool from_file = !o.schedule_csv.empty() || !o.schedule_file.empty();
  if (!o.schedule.empty()) spec.kind = o.schedule;
  if (o.microbatches) spec.microbatches = o.microbatches;
  if (o.microbatches < 0 || o.virtual_stages < 0 || o.minibatches < 0)
    throw InputError("--microbatches", "", "micro-batch, virtual-stage and minibatch counts must be >= 1");
  if (o.virtual_stages) spec.virtual_stages = o.virtual_stages;
  if (o.minibatches) spec.minibatches = o.minibatches;
  if (!o.recompute.empty() && !recompute_from_string(o.recompute, spec.recompute))
    throw InputError("--recompute", "",
                     fmt::format("unknown recompute '{}'; choose never, except_last or always", o.recompute));
  if (o.plan.empty() && !from_file) {
    if (o.schedule.empty())
      throw InputError("--schedule", "", "name the schedule to simulate, e.g. --schedule 1f1b");
    if (o.microbatches < 1)
      throw InputError("--microbatches", "",
                       "give the number of micro-batches per step (at least 1), e.g. --microbatches 8");
  }
  // One minibatch has no steady state to measure: simulate a window of 16.
  if (schedule_traits_or_custom(spec.kind).asynchronous() && !o.minibatches)
    spec.minibatches = std::max(spec.minibatches, 16);

  Schedule schedule;
  if (from_file) {
    const std::string& path = o.schedule_csv.empty() ? o.schedule_file : o.schedule_csv;
    std::string text = read_text_file(path);
    schedule = o.schedule_csv.empty() ? parse_schedule_text(text, path) : parse_schedule_csv(text, path);
    infer_schedule_shape(schedule, path);
    schedule.kind = o.schedule.empty() ? "custom" : o.schedule;
    if (o.microbatches || o.virtual_stages || !o.recompute.empty())
      throw InputError(
          "--microbatches", "",
          "a schedule read from a file fixes micro-batches, chunks and recomputation; drop those flags");
  }

  // Costs and the cluster.
  StageCosts costs;
  Cluster cluster;
  std::vector<int> rank_device;
  int ranks = 0;
  if (!o.plan.empty()) {
    std::string ppath = o.profile.empty() ? plan.profile_path : o.profile;
    if (ppath.empty())
      throw InputError(o.plan, "$.profile_path", "the plan names no profile; pass --profile FILE");
    profile = profile_in_precision(load_profile(ppath), plan.precision, o.allow_precision_mismatch, ppath);
    validate(plan, o.plan, static_cast<int>(profile.layers.size()));
    costs = stage_costs_from_plan(profile, plan);
    cluster = plan.cluster;
    const int S = static_cast<int>(plan.stages.size());
    if (S % spec.virtual_stages)
      throw InputError(
          o.plan, "$.stages",
          fmt::format("{} stages do not divide into {} chunks per rank", S, spec.virtual_stages));
    // A kind with a fixed chunk count (zbv: 2) has it whatever the plan says.
    const ScheduleTraits& t = schedule_traits(spec.kind, o.plan);
    const int chunks = t.chunks(spec.virtual_stages);
    ranks = from_file ? schedule.num_ranks : S / chunks;
  } else if (!o.profile.empty()) {
    profile = load_profile(o.profile);
    if (!o.precision.empty())
      profile = profile_in_precision(std::move(profile), parse_precision(o.precision, "--precision"),
                                     o.allow_precision_mismatch, o.profile);
    auto layers = parse_stages(o.stages, static_cast<int>(profile.layers.size()));
    costs = stage_costs_from_layers(profile, layers, o.microbatch_size);
    const int S = static_cast<int>(layers.size());
    const int v = from_file ? std::max(1, S / std::max(1, schedule.num_ranks)) : spec.virtual_stages;
    if (S % v)
      throw InputError("--stages", "",
                       fmt::format("{} stages do not divide into {} chunks per rank (--virtual)", S, v));
    ranks = from_file ? schedule.num_ranks : S / v;
  } else {
    ranks = o.synthetic;
    const int v =
        from_file ? std::max(1, schedule.num_stages / std::max(1, schedule.num_ranks)) : spec.virtual_stages;
    costs = synthetic_stage_costs(
        ranks, v, o.fwd, o.bwd, o.wgrad,
        o.activation_bytes.empty() ? 0 : bytes_flag(o.activation_bytes, "--activation-bytes"),
        o.saved_bytes.empty() ? 0 : bytes_flag(o.saved_bytes, "--saved-bytes"),
        o.param_bytes.empty() ? 0 : bytes_flag(o.param_bytes, "--param-bytes"));
  }
  if (!o.saved_bytes.empty() && o.synthetic <= 0)
    throw InputError("--saved-bytes", "", "--saved-bytes only applies with --synthetic");
  if (o.plan.empty()) {
    double bw = o.bandwidth.empty() ? 0 : static_cast<double>(bytes_flag(o.bandwidth, "--bandwidth"));
    double lat = o.latency < 0 ? 0 : o.latency;
    if (!std::isfinite(lat)) throw InputError("--latency", "", "latency must be finite seconds");
    cluster = flat_cluster(ranks, bw, lat);
  }
  if (!o.memory.empty()) cluster.device_memory_bytes = bytes_flag(o.memory, "--memory");

  // A cost-aware schedule (zb-auto, zb-interleaved) is built for these costs,
  // this cluster's messages and its memory limit, unless the plan recorded
  // the hint it was made with.
  if (!from_file && spec.cost_hint.empty()) {
    const ScheduleTraits& t = schedule_traits(spec.kind);
    const int chunks = t.chunks(spec.virtual_stages);
    if (t.uses_costs && ranks > 0 && static_cast<int>(costs.stages.size()) == ranks * chunks) {
      CostHintOptions ho;
      ho.memory_limit_bytes = cluster.device_memory_bytes;
      ho.optimizer = optimizer;
      ho.precision = !o.plan.empty() ? plan.precision
                     : !o.profile.empty()
                         ? profile.precision()
                         : parse_precision(o.precision.empty() ? "fp32" : o.precision, "--precision");
      ho.recompute = spec.recompute;
      if (!o.plan.empty()) {
        ho.rank_device.assign(ranks, 0);
        for (int s = 0; s < static_cast<int>(plan.stages.size()); ++s)
          if (!plan.stages[s].ranks.empty())
            ho.rank_device[stage_rank(t, s, ranks)] = plan.stages[s].ranks[0];
      }
      spec.cost_hint = schedule_cost_hint(costs, spec.kind, ranks, cluster, ho);
    }
  }
  if (!from_file) schedule = generate_schedule(spec, ranks);
  if (from_file && schedule.num_ranks != ranks)
    throw InputError(
        o.schedule_csv.empty() ? o.schedule_file : o.schedule_csv, "",
        fmt::format("the schedule has {} ranks but the costs describe {}", schedule.num_ranks, ranks));
  if (static_cast<int>(costs.stages.size()) != schedule.num_stages)
    throw InputError(
        "--stages", "",
        fmt::format("the schedule has {} stages but the costs describe {}; with --virtual V give "
                    "ranks x V stages",
                    schedule.num_stages, costs.stages.size()));
  if (!o.unlowered) schedule = lower_schedule(schedule);
  if (!o.plan.empty()) {
    rank_device.assign(schedule.num_ranks, 0);
    for (int s = 0; s < schedule.num_stages; ++s)
      if (!plan.stages[s].ranks.empty()) rank_device[schedule.stage_to_rank[s]] = plan.stages[s].ranks[0];
  }
  if (!o.write_schedule.empty()) {
    const bool csv =
        o.write_schedule.size() >= 4 && o.write_schedule.substr(o.write_schedule.size() - 4) == ".csv";
    write_text_file(o.write_schedule, csv ? format_schedule_csv(schedule) : format_schedule_text(schedule));
  }

  SimOptions opt;
  opt.optimizer = optimizer;
  // The profile's step costs are its optimizer's: under another one's state
  // model they would be wrong, so no step is charged.
  if (!profile.optimizer.empty() && profile.training_optimizer() != optimizer) {
    for (auto& st : costs.stages) st.step_ms = -1;
    fmt::print(stderr,
               "note: the profile's optimizer step costs were measured with {}, not --optimizer {}; "
               "steps are not charged\n",
               profile.optimizer, o.optimizer);
  }
  if (schedule_traits_or_custom(spec.kind).asynchronous())
    opt.weight_copy_bytes_per_s = profile.weight_copy_bytes_per_s;  // weight stashing's copies
  // The costs' precision: the plan's or profile's (carried to --precision
  // above), else --precision for synthetic costs.
  opt.precision = !o.plan.empty() ? plan.precision
                  : !o.profile.empty()
                      ? profile.precision()
                      : parse_precision(o.precision.empty() ? "fp32" : o.precision, "--precision");
  opt.microbatch_size = o.microbatch_size > 0      ? o.microbatch_size
                        : plan.microbatch_size > 0 ? plan.microbatch_size
                                                   : std::max(1, profile.microbatch_size);
  opt.microbatches_per_minibatch = from_file ? 0 : spec.microbatches;
  opt.rank_device = rank_device;
  opt.record_timeline = !o.timeline.empty() || !o.json || o.viz.any();
  // A measured machine: its probed overheads, links (unless given here) and
  // sharing (every rank on that machine's processor) replace the defaults.
  std::vector<SharedDevice> shared;
  std::optional<CalibratedModel> model;
  if (!o.calibration.empty()) {
    const RunCalibration cal = calibration_from_json(read_text_file(o.calibration), o.calibration);
    model = calibrated_model(cal, schedule.num_ranks);
    apply_overheads(*model, opt);
    if (o.bandwidth.empty() && o.latency < 0) {
      const std::int64_t memory = cluster.device_memory_bytes;
      cluster = model->cluster;
      cluster.device_memory_bytes = memory;
      model->draw_cluster.device_memory_bytes = memory;
    } else {
      model->draw_cluster = cluster;
      model->draws.delay_ms.clear();
    }
    if (o.shared_capacity <= 0 && cal.cpu && !cal.shared.empty())
      shared.push_back(
          shared_by_all(schedule.num_ranks, cal.shared[0].capacity, cal.shared[0].step_capacity));
  }
  if (o.shared_capacity > 0) {
    // Every rank on one device (one GPU time-sliced between processes, or
    // shared cores) that sustains `shared_capacity` ranks' worth of compute.
    shared.push_back(shared_by_all(schedule.num_ranks, o.shared_capacity));
  }
  SimulationResult res;
  double dedicated_ms = -1;
  const double capacity = shared.empty() ? 0 : shared[0].capacity;
  if (!shared.empty()) {
    SharedSimulation sh = simulate_shared(schedule, costs, cluster, opt, shared);
    res = std::move(sh.result);
    dedicated_ms = sh.dedicated_step_ms;
  } else {
    res = simulate(schedule, costs, cluster, opt);
  }
  std::optional<StepSpread> spread;
  if (model) {
    SpreadInputs in = model->draws;
    in.draws = o.draws;
    in.seed = o.spread_seed;
    in.speed_window_ms = res.metrics.step_time_ms;  // the machine's speed over one simulated step
    spread = predict_spread(schedule, costs, model->draw_cluster, opt, shared, in);
    set_meta(res.timeline, RunMeta::step_spread_ms,
             fmt::format("{:.4f} {:.4f} {:.4f}", spread->p10_ms, spread->p50_ms, spread->p90_ms));
  }
  const SimMetrics& m = res.metrics;
  // The report's throughput column reads samples per step from the timeline's meta.
  set_meta(res.timeline, RunMeta::samples_per_step,
           std::to_string(opt.microbatch_size * schedule.num_microbatches));
  if (!o.timeline.empty()) write_text_file(o.timeline, timeline_to_json(res.timeline));
  std::vector<std::string> written;
  if (o.viz.any()) written = write_viz_outputs(o.viz, res.timeline, o.plan.empty() ? nullptr : &plan);
  // With --json, stdout stays pure JSON; where files went goes to stderr.
  auto report_written = [&] {
    for (const auto& line : written) fmt::print(o.json ? stderr : stdout, "wrote {}\n", line);
  };

  if (o.json) {
    nlohmann::ordered_json j;
    j["schedule"] = schedule.kind;
    j["num_ranks"] = schedule.num_ranks;
    j["num_stages"] = schedule.num_stages;
    j["num_microbatches"] = schedule.num_microbatches;
    j["precision"] = to_string(opt.precision);
    j["actions"] = m.actions;
    j["step_time_ms"] = m.step_time_ms;
    if (dedicated_ms >= 0) {
      j["shared_device_capacity"] = capacity;
      j["dedicated_step_ms"] = dedicated_ms;
    }
    if (spread) {
      j["step_time_p10_ms"] = spread->p10_ms;
      j["step_time_p50_ms"] = spread->p50_ms;
      j["step_time_p90_ms"] = spread->p90_ms;
      j["spread_draws"] = o.draws;
      j["spread_speed_p10"] = spread->speed_p10;  // the machine-speed factors drawn (1: none)
      j["spread_speed_p90"] = spread->speed_p90;
      j["spread_seed"] = o.spread_seed;
      j["calibration"] = o.calibration;
    }
    j["time_per_minibatch_ms"] = m.time_per_minibatch_ms;
    j["asynchronous"] = m.asynchronous;
    j["throughput_samples_per_s"] = m.throughput_samples_per_s;
    j["bubble_fraction"] = m.bubble_fraction;
    j["peak_memory_bytes"] = m.peak_memory_bytes;
    j["device_memory_bytes"] = m.device_memory_bytes;
    j["fits_memory"] = m.fits_memory;
    auto& rj = j["ranks"];
    rj = nlohmann::ordered_json::array();
    for (std::size_t r = 0; r < m.ranks.size(); ++r) {
      const RankMetrics& rm = m.ranks[r];
      nlohmann::ordered_json x;
      x["rank"] = r;
      x["busy_ms"] = rm.busy_ms;
      x["idle_ms"] = rm.idle_ms;
      x["bubble_fraction"] = rm.bubble_fraction;
      x["span_ms"] = rm.span_ms;
      x["peak_memory_bytes"] = rm.peak_memory_bytes;
      x["peak_memory_term"] = rm.peak_term;
      x["peak_memory"] = {
          {"weights", rm.peak_memory.weights},         {"master", rm.peak_memory.master},
          {"gradients", rm.peak_memory.gradients},     {"optimizer", rm.peak_memory.optimizer},
          {"activations", rm.peak_memory.activations}, {"buffers", rm.peak_memory.buffers}};
      x["peak_inflight_microbatches"] = rm.peak_inflight_microbatches;
      rj.push_back(x);
    }
    fmt::print("{}\n", j.dump(2));
    report_written();
    return;
  }
  fmt::print("{} on {} ranks, {} stages, {} micro-batches ({} actions{})\n", schedule.kind,
             schedule.num_ranks, schedule.num_stages, schedule.num_microbatches, m.actions,
             schedule.lowered() ? ", lowered" : "");
  fmt::print("step time {}", format_ms(m.step_time_ms));
  if (m.asynchronous)
    fmt::print(", steady state {} per minibatch of {} micro-batches", format_ms(m.time_per_minibatch_ms),
               m.microbatches_per_minibatch);
  fmt::print(", {:.1f} samples/s, bubble {:.1f}%\n", m.throughput_samples_per_s, 100 * m.bubble_fraction);
  if (dedicated_ms >= 0)
    fmt::print(
        "shared device: all {} ranks on one device worth {:g} rank(s) of compute; with a device each: {}\n",
        schedule.num_ranks, capacity, format_ms(dedicated_ms));
  if (spread)
    fmt::print("calibrated on {}: step p10 {}, p50 {}, p90 {} ({} draws, seed {})\n", o.calibration,
               format_ms(spread->p10_ms), format_ms(spread->p50_ms), format_ms(spread->p90_ms), o.draws,
               o.spread_seed);
  TextTable table({"rank", "busy", "idle", "bubble", "span", "peak memory", "largest term", "in flight"}, 1);
  for (std::size_t r = 0; r < m.ranks.size(); ++r) {
    const RankMetrics& rm = m.ranks[r];
    table.add({std::to_string(r), format_ms(rm.busy_ms), format_ms(rm.idle_ms),
               fmt::format("{:.1f}%", 100 * rm.bubble_fraction), format_ms(rm.span_ms),
               format_bytes(static_cast<double>(rm.peak_memory_bytes)), rm.peak_term,
               std::to_string(rm.peak_inflight_microbatches)});
  }
  fmt::print("{}", table.str());
  if (m.device_memory_bytes > 0)
    fmt::print("memory limit {}: {}\n", format_bytes(static_cast<double>(m.device_memory_bytes)),
               m.fits_memory ? "fits"
                             : fmt::format("DOES NOT FIT (peak {})",
                                           format_bytes(static_cast<double>(m.peak_memory_bytes))));
  fmt::print("\n{}", render_terminal_chart(res.timeline, o.width));
  report_written();
}

void add_simulate(CLI::App& app) {
  auto o = std::make_shared<SimulateOptions>();
  auto* cmd = app.add_subcommand(
      "simulate", "Simulate a schedule: step time, bubbles, memory per rank, terminal chart, timeline");
  cmd->add_option("--plan", o->plan, "Plan JSON (its profile_path, or --profile, gives the costs)");
  cmd->add_option("--profile", o->profile, "Profile (pipekit JSON or PipeDream graph.txt)");
  cmd->add_option(
      "--stages", o->stages,
      "Split of --profile: layer ranges per global stage \"0-3,4-7\", or a stage count N (even by layers)");
  cmd->add_option("--synthetic", o->synthetic, "Synthetic equal stages on P ranks (use with --fwd/--bwd)");
  cmd->add_option("--fwd", o->fwd, "Synthetic forward time per micro-batch per rank, in ms");
  cmd->add_option("--bwd", o->bwd, "Synthetic full backward time per micro-batch per rank, in ms");
  cmd->add_option(
      "--wgrad", o->wgrad,
      "Synthetic weight-gradient part of --bwd, in ms (default: half of it; input grad is the rest)");
  cmd->add_option(
      "--schedule", o->schedule,
      "Schedule: " + schedule_name_list() + " (with a schedule file: its name, for the memory model)");
  cmd->add_option("--microbatches", o->microbatches,
                  "Micro-batches per step (per minibatch for pipedream/2bw)");
  cmd->add_option("--virtual", o->virtual_stages, "Virtual stages (chunks) per rank; interleaved, zbv = 2");
  cmd->add_option("--minibatches", o->minibatches,
                  "pipedream/2bw: minibatches simulated back to back (default 16)");
  cmd->add_option("--recompute", o->recompute, "Activation recomputation: never, except_last or always");
  cmd->add_option("--microbatch-size", o->microbatch_size,
                  "Samples per micro-batch, for throughput (and profile time scaling)");
  cmd->add_option("--bandwidth", o->bandwidth,
                  "Link bandwidth in bytes per second, e.g. 25GB/s or 1e10 (default: free links)");
  cmd->add_option("--latency", o->latency, "Link latency per message, in seconds (default 0)");
  cmd->add_option("--activation-bytes", o->activation_bytes,
                  "Synthetic activation bytes sent between stages per micro-batch, e.g. 8MiB");
  cmd->add_option("--saved-bytes", o->saved_bytes,
                  "Synthetic activation bytes a stage keeps per micro-batch until its backward");
  cmd->add_option("--param-bytes", o->param_bytes, "Synthetic parameter bytes per stage");
  cmd->add_option(
      "--precision", o->precision,
      "fp32, bf16 or fp16: the memory model's precision (default: the plan's, else the profile's)");
  cmd->add_flag(
      "--allow-precision-mismatch", o->allow_precision_mismatch,
      "Use a profile measured in another precision, its bytes scaled by the element size (times kept)");
  cmd->add_option("--optimizer", o->optimizer,
                  "Optimizer state model: adam (2x params), momentum (1x), sgd (0)");
  cmd->add_option("--memory", o->memory,
                  "Device memory limit in bytes, e.g. 16GiB (default: plan's, or none)");
  cmd->add_option("--schedule-csv", o->schedule_csv,
                  "Simulate a schedule from a torch.distributed.pipelining CSV");
  cmd->add_option("--schedule-file", o->schedule_file, "Simulate a schedule from pipekit text form");
  cmd->add_option("--write-schedule", o->write_schedule,
                  "Write the simulated schedule (.csv: CSV, else text)");
  cmd->add_flag("--unlowered", o->unlowered, "Simulate without SEND/RECV actions (implicit transfers)");
  cmd->add_flag("--json", o->json, "Print metrics as JSON (times in ms, sizes in bytes)");
  cmd->add_option("--timeline", o->timeline, "Write the predicted timeline JSON (times in ms) to this file");
  cmd->add_option("--svg", o->viz.svg, "Write the Gantt chart (SVG) to this file");
  cmd->add_option("--memory-svg", o->viz.memory_svg, "Write the memory-over-time chart (SVG) to this file");
  cmd->add_option("--html", o->viz.html, "Write a self-contained HTML report to this file");
  cmd->add_option("--trace", o->viz.trace, "Write a Perfetto / Chrome trace (JSON, open in ui.perfetto.dev)");
  cmd->add_flag("--lanes", o->viz.lanes, "Gantt chart: one lane per virtual stage");
  cmd->add_option(
         "--shared-device", o->shared_capacity,
         "All ranks share one device (GPU or cores) worth this many ranks of compute, e.g. 1 for ranks "
         "time-sliced on one GPU; measure it with pipekit corun")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--calibration", o->calibration,
                  "Simulate on a measured machine: the overheads, links and sharing `pipekit run --compare` "
                  "probed (its JSON, or a pipekit-calibration/1 file), with the step's p10/p50/p90")
      ->check(CLI::ExistingFile);
  cmd->add_option("--draws", o->draws, "--calibration: Monte Carlo draws for the spread")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--spread-seed", o->spread_seed, "--calibration: the draws' seed")->capture_default_str();
  cmd->add_option("--width", o->width, "Terminal chart width in characters (default 100)");
  cmd->callback([o] { run_simulate(*o); });
}

CommandRegistration reg(40, add_simulate);

}  // namespace
}  // namespace pipekit::cli
