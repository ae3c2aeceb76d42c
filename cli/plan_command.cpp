// pipekit plan: split a profiled model into pipeline stages.
//
// --method dp (default) runs PipeDream's dynamic program (stages + replicas,
// asynchronous pipeline, planner/pipedream_dp.h); exact runs the exact
// straight-pipeline partitioner for flush schedules (planner/straight_partitioner.h);
// uniform / parameters / type:REGEX are DeepSpeed's partition methods. Prints the
// stages, or the Plan as JSON (--json), and writes it with --out. --search instead
// simulates many configurations (planner/plan_search.h) and ranks them.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "cli/command.h"
#include "cli/text_table.h"
#include "core/error.h"
#include "core/formats.h"
#include "core/schedule_traits.h"
#include "core/units.h"
#include "planner/deepspeed_partition.h"
#include "planner/peer_plans.h"
#include "planner/pipedream_dp.h"
#include "planner/plan_search.h"
#include "planner/schedule_costs.h"
#include "planner/search_explanation.h"
#include "planner/straight_partitioner.h"
#include "profiles/pipedream_graph.h"
#include "profiles/profile_precision.h"

namespace pipekit::cli {
namespace {

struct PlanOptions {
  std::vector<std::string> profiles;  // several only for --search: one model at several micro-batch sizes
  std::string profile, devices = "1", bandwidth, memory, schedule, cost_model = "pipekit", method = "dp",
                       recompute = "never", out, precision, microbatch_counts, microbatch_sizes, peer;
  int microbatches = 0, top = 10, global_batch = 0, max_virtual = 4;
  double shared_capacity = 0;  // --search: every device a process on one shared processor
  bool straight = false, fewer = false, no_transfers = false, json = false, search = false;
  bool allow_precision_mismatch = false;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

// "4,6,8-16": counts and inclusive ranges, for --microbatch-counts and --microbatch-sizes.
std::vector<int> parse_int_list(const std::string& s, const std::string& source) {
  std::vector<int> out;
  for (const auto& item : split_commas(s)) {
    const std::size_t dash = item.find('-', 1);
    auto number = [&](const std::string& x) {
      std::size_t used = 0;
      long v = 0;
      try {
        v = std::stol(x, &used);
      } catch (...) {
        used = 0;
      }
      if (x.empty() || used != x.size() || v < 1 || v > 100000)
        throw InputError(source, "", fmt::format("'{}' is not a positive count; e.g. 4,6,8-16", item));
      return static_cast<int>(v);
    };
    if (dash == std::string::npos) {
      out.push_back(number(item));
    } else {
      const int lo = number(item.substr(0, dash)), hi = number(item.substr(dash + 1));
      if (hi < lo || hi - lo > 100000) throw InputError(source, "", fmt::format("'{}' is not a range", item));
      for (int v = lo; v <= hi; ++v) out.push_back(v);
    }
  }
  if (out.empty()) throw InputError(source, "", "no count given; e.g. 4,6,8-16");
  return out;
}

std::vector<int> parse_devices(const std::string& s) {
  std::vector<int> out;
  for (const auto& item : split_commas(s)) {
    std::size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v < 1 || v > 30000)
      throw InputError(
          "--devices", "",
          fmt::format("'{}' is not a device count; give counts per level, innermost first, e.g. 4 or 8,16",
                      item));
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) throw InputError("--devices", "", "no device count given; e.g. --devices 4 or 8,16");
  return out;
}

std::vector<double> parse_bandwidths(const std::string& s, std::size_t levels) {
  if (s.empty()) return std::vector<double>(levels, 1e9);  // PipeDream's default, 1 GB/s
  std::vector<double> out;
  for (const auto& item : split_commas(s)) {
    auto v = parse_bytes(item);
    if (!v)
      throw InputError(
          "--bandwidth", "",
          fmt::format("'{}' is not a bandwidth; give bytes/s per level, e.g. 1e9, 10GB/s or 25GB/s,1GB/s",
                      item));
    out.push_back(*v);
  }
  if (out.size() != levels)
    throw InputError("--bandwidth", "",
                     fmt::format("{} bandwidths for {} device levels; give one per level, innermost first",
                                 out.size(), levels));
  return out;
}

std::string speedup_text(double one_device, double planned) {
  return planned > 0 ? fmt::format("{:.2f}x", one_device / planned) : std::string("n/a (no work)");
}

std::string layer_span(const std::vector<int>& layers) {
  const int lo = *std::min_element(layers.begin(), layers.end());
  const int hi = *std::max_element(layers.begin(), layers.end());
  const bool contiguous = hi - lo + 1 == static_cast<int>(layers.size());
  return fmt::format("{}..{}{}", lo, hi, contiguous ? "" : fmt::format(" ({} layers)", layers.size()));
}

// Progress on stderr once the search has run for a second.
std::function<void(int, int)> search_progress() {
  auto start = std::chrono::steady_clock::now();
  auto last = std::make_shared<double>(-1.0);
  return [start, last](int done, int total) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s < 1.0) return;
    if (done < total && s - *last < 0.25) return;
    *last = s;
    fmt::print(stderr, "\rsearch: {} of {} candidates, {:.1f} s{}", done, total, s,
               done >= total ? "\n" : "");
    std::fflush(stderr);
  };
}

SearchOptions search_options(const PlanOptions& o, const Profile& p, const Cluster& cluster) {
  SearchOptions so;
  so.cluster = cluster;
  so.precision = p.precision();
  so.straight = o.straight;
  so.global_batch = o.global_batch;
  so.max_virtual_stages = o.max_virtual;
  so.shared_capacity = o.shared_capacity;
  // --schedule narrows the search to one schedule or a comma list; "flush"
  // stands for every synchronous schedule (the ones that train exactly as one
  // device would, no stale weights).
  auto add = [&](const std::string& name) {
    if (std::find(so.schedules.begin(), so.schedules.end(), name) == so.schedules.end())
      so.schedules.push_back(name);
  };
  for (const std::string& name : split_commas(o.schedule)) {
    if (name == "flush") {
      for (const ScheduleTraits& t : schedule_table())
        if (t.generated() && !t.asynchronous()) add(std::string(t.name));
    } else {
      schedule_traits(name);  // an unknown name is an InputError listing the known ones
      add(name);
    }
  }
  if (o.microbatches > 0) so.microbatches = {o.microbatches};
  if (!o.microbatch_counts.empty())
    so.microbatches = parse_int_list(o.microbatch_counts, "--microbatch-counts");
  if (!o.microbatch_sizes.empty())
    so.microbatch_sizes = parse_int_list(o.microbatch_sizes, "--microbatch-sizes");
  if (o.recompute == "selective") {
    so.recompute = {Recompute::never};
  } else if (o.recompute != "never") {
    Recompute rc;
    recompute_from_string(o.recompute, rc);
    so.recompute = {rc};
    so.selective_recompute = false;
  }
  return so;
}

void print_candidates(const std::vector<SearchCandidate>& ranked, int top) {
  TextTable t({"#", "schedule", "stages", "replicas", "micro-batches", "size", "virtual", "recompute",
               "ms/minibatch", "ms/sample", "bubble", "peak memory", "fits"},
              2);
  for (std::size_t i = 0; i < ranked.size() && static_cast<int>(i) < top; ++i) {
    const SearchCandidate& c = ranked[i];
    const Plan& pl = c.plan;
    std::string rc = to_string(pl.schedule.recompute);
    if (!pl.schedule.recompute_stages.empty())
      rc = fmt::format(
          "{} of {} stages",
          std::count(pl.schedule.recompute_stages.begin(), pl.schedule.recompute_stages.end(), true),
          pl.schedule.recompute_stages.size());
    t.add({std::to_string(i + 1), pl.schedule.kind,
           std::to_string(pl.stages.size() / static_cast<std::size_t>(pl.schedule.virtual_stages)),
           std::to_string(pl.stages.front().replicas), std::to_string(pl.schedule.microbatches),
           std::to_string(pl.microbatch_size), std::to_string(pl.schedule.virtual_stages), rc,
           fmt::format("{:.3f}", c.time_per_minibatch_ms), fmt::format("{:.4f}", c.time_per_sample_ms),
           fmt::format("{:.1f}%", 100 * c.bubble_fraction), format_bytes(c.peak_memory_bytes),
           c.fits_memory ? "yes" : "no"});
  }
  fmt::print("{}", t.str());
}

void run_search(const PlanOptions& o, const std::vector<Profile>& profiles, const Cluster& cluster) {
  const Profile& p = profiles.front();
  SearchOptions so = search_options(o, p, cluster);
  so.progress = search_progress();
  SearchResult r = search_plans(profiles, so);
  if (r.ranked.empty())
    throw InputError("--search", "",
                     fmt::format("none of {} configurations could be built; the first problem: {}", r.tried,
                                 r.first_skip_reason));
  Plan best = r.ranked.front().plan;
  best.profile_path = o.profile;
  if (!o.out.empty()) write_text_file(o.out, plan_to_json(best));
  if (o.json) {
    fmt::print("{}\n", plan_to_json(best));
    return;
  }
  fmt::print(
      "model {} ({} layers), {} devices: {} candidates, {} simulated, {} not simulated (lower bound slower "
      "than "
      "the best), {} skipped\n",
      p.model, p.layers.size(), cluster.num_devices(), r.candidates, r.ranked.size(), r.pruned, r.skipped);
  print_candidates(r.ranked, o.top);
  fmt::print("{}", explain_search(r));
  if (r.skipped > 0) fmt::print("skipped {}, e.g.: {}\n", r.skipped, r.first_skip_reason);
  if (!o.out.empty()) fmt::print("wrote the best plan to {}\n", o.out);
}

// A peer system's default plan (planner/peer_plans.h), scored like a search
// candidate; when it does not fit, the peer's answer is full recomputation.
void run_peer(const PlanOptions& o, const Profile& p, const Cluster& cluster) {
  SearchOptions so = search_options(o, p, cluster);
  const int b = std::max(1, p.microbatch_size);
  int m = o.microbatches > 0 ? o.microbatches : cluster.num_devices();
  if (o.global_batch > 0) {
    if (o.global_batch % b != 0)
      throw InputError(
          "--global-batch", "",
          fmt::format("{} samples are not a whole number of micro-batches of {}", o.global_batch, b));
    m = o.global_batch / b;
  }
  Plan plan = peer_plan(p, o.peer, cluster, m, so.precision);
  plan.profile_path = o.profile;
  SearchCandidate c = score_plan(p, plan, so);
  if (!c.fits_memory) {
    plan.schedule.recompute = Recompute::always;
    c = score_plan(p, plan, so);
  }
  if (!o.out.empty()) write_text_file(o.out, plan_to_json(c.plan));
  if (o.json) {
    fmt::print("{}\n", plan_to_json(c.plan));
    return;
  }
  fmt::print("model {} ({} layers), {} devices, peer {}:\n", p.model, p.layers.size(), cluster.num_devices(),
             o.peer);
  print_candidates({c}, 1);
  if (!o.out.empty()) fmt::print("wrote {}\n", o.out);
}

void run_plan(PlanOptions o) {
  if (o.profiles.size() > 1 && !o.search)
    throw InputError("--profile", "", "several profiles (micro-batch sizes) only with --search");
  o.profile = o.profiles.front();
  Profile p = load_profile(o.profile);
  // The plan's precision: --precision, else the profile's own.
  const Precision precision =
      o.precision.empty() ? p.precision() : parse_precision(o.precision, "--precision");
  p = profile_in_precision(std::move(p), precision, o.allow_precision_mismatch, o.profile);
  std::vector<Profile> profiles{p};
  for (std::size_t i = 1; i < o.profiles.size(); ++i)
    profiles.push_back(profile_in_precision(load_profile(o.profiles[i]), precision,
                                            o.allow_precision_mismatch, o.profiles[i]));
  const std::vector<int> levels = parse_devices(o.devices);
  const std::vector<double> bws = parse_bandwidths(o.bandwidth, levels.size());
  long long total_devices = 1;
  for (int d : levels) total_devices *= d;
  if (total_devices > 1'000'000) throw InputError("--devices", "", "more than a million devices");
  std::optional<double> memory;
  if (!o.memory.empty()) {
    memory = parse_bytes(o.memory);
    if (!memory || *memory <= 0)
      throw InputError("--memory", "",
                       fmt::format("'{}' is not a memory size; e.g. 16GiB or 16e9", o.memory));
  }
  if (o.cost_model != "pipekit" && o.cost_model != "pipedream")
    throw InputError("--cost-model", "",
                     fmt::format("unknown cost model '{}'; use pipekit or pipedream", o.cost_model));
  Recompute rc = Recompute::never;
  if (o.recompute == "selective" && !o.search)
    throw InputError("--recompute", "", "selective recomputation is chosen by --search; add --search");
  if (o.recompute != "selective" && !recompute_from_string(o.recompute, rc))
    throw InputError("--recompute", "", fmt::format("'{}': use never, except_last or always", o.recompute));
  if (o.search || !o.peer.empty()) {
    Cluster c;
    c.device_memory_bytes = memory ? static_cast<std::int64_t>(*memory) : 0;
    for (std::size_t l = 0; l < levels.size(); ++l) c.levels.push_back({levels[l], bws[l], 0});
    if (o.search)
      run_search(o, profiles, c);
    else
      run_peer(o, p, c);
    return;
  }
  const bool dp = o.method == "dp";
  const std::string schedule = !o.schedule.empty() ? o.schedule : dp ? "pipedream" : "1f1b";
  schedule_traits(schedule);  // an unknown name is an InputError listing the known ones
  if (o.microbatches < 0) throw InputError("--microbatches", "", "needs at least one micro-batch");

  Plan plan;
  plan.model = p.model;
  plan.profile_path = o.profile;
  plan.microbatch_size = p.microbatch_size;
  plan.cost_model = o.cost_model;
  plan.cluster.device_memory_bytes = memory ? static_cast<std::int64_t>(*memory) : 0;
  for (std::size_t l = 0; l < levels.size(); ++l) plan.cluster.levels.push_back({levels[l], bws[l], 0});
  plan.schedule.kind = schedule;
  plan.schedule.recompute = rc;
  plan.precision = precision;
  const double state_factor = static_memory_factor(precision, p.training_optimizer());

  double total_compute_s = 0;
  for (const auto& l : p.layers) total_compute_s += (l.forward_ms + l.backward_ms) / 1000.0;

  struct Row {
    double compute_ms, memory;
  };
  std::vector<Row> rows;
  std::string summary;
  if (dp) {
    PipeDreamOptions d;
    d.machines = levels;
    d.bandwidths = bws;
    d.cost_model = o.cost_model == "pipedream" ? CostModel::pipedream : CostModel::pipekit;
    d.straight = o.straight;
    d.fewer_machines = o.fewer;
    d.memory_bytes = memory;
    d.count_transfers = !o.no_transfers;
    d.optimizer_factor = state_factor;
    DpResult r = pipedream_partition(p, d);
    int rank = 0;
    for (const auto& s : r.stages) {
      PlanStage ps;
      ps.layers = s.layers;
      ps.replicas = s.replicas;
      for (int i = 0; i < s.replicas; ++i) ps.ranks.push_back(rank++);
      plan.stages.push_back(ps);
      rows.push_back({s.compute_s * 1000.0, s.memory_bytes});
    }
    plan.schedule.microbatches = o.microbatches > 0 ? o.microbatches : static_cast<int>(plan.stages.size());
    plan.predicted["time_per_minibatch_s"] = r.time_per_minibatch_s;
    plan.predicted["single_device_s"] = r.single_device_s;
    plan.predicted["data_parallel_s"] = r.data_parallel_s;
    if (r.time_per_minibatch_s > 0) plan.predicted["speedup"] = r.single_device_s / r.time_per_minibatch_s;
    summary = fmt::format(
        "time per minibatch {:.6f} s (slowest stage), one device {:.6f} s: speed-up {} on {} of {} devices "
        "(data-parallel estimate {:.6f} s)\nplanner: {} cost model, {} with {} states",
        r.time_per_minibatch_s, r.single_device_s, speedup_text(r.single_device_s, r.time_per_minibatch_s),
        r.devices_used, total_devices, r.data_parallel_s, o.cost_model, to_string(r.graph), r.num_states);
  } else {
    const int stages = static_cast<int>(total_devices);
    if (stages > static_cast<int>(p.layers.size()))
      throw InputError("--devices", "",
                       fmt::format("{} devices for {} layers; a straight pipeline needs a layer per device",
                                   stages, p.layers.size()));
    const int m = o.microbatches > 0 ? o.microbatches : stages;
    plan.schedule.microbatches = m;
    StraightOptions so;
    so.stages = stages;
    so.schedule = plan.schedule;
    so.memory_bytes = memory;
    so.optimizer_factor = state_factor;
    if (!o.no_transfers) {
      for (int b = 0; b + 1 < stages; ++b)
        so.boundary_bandwidths.push_back(bws[static_cast<std::size_t>(plan.cluster.level_joining(b, b + 1))]);
    }
    std::vector<std::pair<int, int>> ranges;
    if (o.method == "exact") {
      StraightResult r = straight_partition(p, so);
      for (const auto& s : r.stages) ranges.push_back({s.first, s.last});
    } else {
      std::vector<int> parts = deepspeed_partition(p, o.method, stages);
      for (int s = 0; s < stages; ++s) ranges.push_back({parts[s], parts[s + 1] - 1});
    }
    double max_ms = 0, sum_ms = 0;
    for (int s = 0; s < stages; ++s) {
      PlanStage ps;
      for (int l = ranges[s].first; l <= ranges[s].second; ++l) ps.layers.push_back(l);
      ps.ranks = {s};
      plan.stages.push_back(ps);
      double ms = 0;
      for (int l : ps.layers) ms += p.layers[l].forward_ms + p.layers[l].backward_ms;
      rows.push_back({ms, straight_stage_memory(p, so, s, ranges[s].first, ranges[s].second)});
      max_ms = std::max(max_ms, ms);
      sum_ms += ms;
    }
    // A flush schedule runs m micro-batches through p stages in about (m + p - 1) slowest-stage slots.
    const double step_s = (m + stages - 1) * max_ms / 1000.0;
    plan.predicted["max_stage_ms"] = max_ms;
    plan.predicted["time_per_minibatch_s"] = step_s;
    plan.predicted["single_device_s"] = m * sum_ms / 1000.0;
    if (step_s > 0) plan.predicted["speedup"] = m * sum_ms / 1000.0 / step_s;
    summary = fmt::format(
        "slowest stage {:.3f} ms per micro-batch; {} with {} micro-batches: about {:.6f} s per minibatch, "
        "one device {:.6f} s: speed-up {}\nplanner: {}",
        max_ms, schedule, m, step_s, m * sum_ms / 1000.0, speedup_text(m * sum_ms / 1000.0, step_s),
        o.method == "exact" ? "exact straight partition (compute + transfers, memory-checked)"
                            : "DeepSpeed partition_method " + o.method);
  }
  validate(plan, "plan", static_cast<int>(p.layers.size()));
  // A cost-aware schedule records the costs and memory cap it is to be built
  // with, so simulate and run generate the same order from the plan.
  const ScheduleTraits& traits = schedule_traits(schedule);
  if (traits.uses_costs && plan.schedule.virtual_stages >= traits.min_chunks)
    plan.schedule.cost_hint = schedule_cost_hint(p, plan);

  if (!o.out.empty()) write_text_file(o.out, plan_to_json(plan));
  if (o.json) {
    fmt::print("{}\n", plan_to_json(plan));
    return;
  }
  fmt::print("model {} ({} layers), {} devices ({}), schedule {}\n", p.model, p.layers.size(), total_devices,
             o.devices, schedule);
  TextTable t({"stage", "layers", "first layer", "last layer", "replicas", "ranks", "compute ms",
               "per replica ms", "memory/device"},
              4);
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const PlanStage& ps = plan.stages[s];
    const int lo = *std::min_element(ps.layers.begin(), ps.layers.end());
    const int hi = *std::max_element(ps.layers.begin(), ps.layers.end());
    std::string ranks = ps.ranks.size() == 1 ? std::to_string(ps.ranks[0])
                                             : fmt::format("{}-{}", ps.ranks.front(), ps.ranks.back());
    t.add({std::to_string(s), layer_span(ps.layers), p.layers[lo].name, p.layers[hi].name,
           std::to_string(ps.replicas), ranks, fmt::format("{:.3f}", rows[s].compute_ms),
           fmt::format("{:.3f}", rows[s].compute_ms / ps.replicas), format_bytes(rows[s].memory)});
  }
  fmt::print("{}{}\n", t.str(), summary);
  if (!o.out.empty()) fmt::print("wrote {}\n", o.out);
}

void add_plan(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  auto* cmd = app.add_subcommand(
      "plan", "Split a profiled model into pipeline stages (PipeDream DP, exact, DeepSpeed)");
  cmd->add_option("--profile", o->profiles,
                  "Profile: pipekit JSON or PipeDream graph.txt; --search takes it several times: one model "
                  "measured at several micro-batch sizes, interpolated per layer between them")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--devices", o->devices,
                  "Devices per level, innermost first: 4, or 8,16 for 16 machines of 8 (default 1)");
  cmd->add_option("--bandwidth", o->bandwidth,
                  "Link bandwidth per level in bytes/s, innermost first: 1e9, 10GB/s, 25GB/s,1GB/s "
                  "(default 1e9 = 1 GB/s, PipeDream's default)");
  cmd->add_option("--memory", o->memory, "Memory per device in bytes: 16GiB, 16e9 (default: no limit)");
  cmd->add_option("--schedule", o->schedule,
                  "Schedule recorded in the plan and used for memory: " + schedule_name_list() +
                      " (default: pipedream for dp, 1f1b otherwise); --search: one, a comma list, or "
                      "'flush' for every synchronous schedule (no stale weights)");
  cmd->add_option("--microbatches", o->microbatches,
                  "Micro-batches per minibatch (default: number of stages)");
  cmd->add_option(
      "--precision", o->precision,
      "fp32, bf16 or fp16: what the plan trains in and plans memory for (default: the profile's)");
  cmd->add_flag(
      "--allow-precision-mismatch", o->allow_precision_mismatch,
      "Plan a profile measured in another precision, its bytes scaled by the element size (times kept)");
  cmd->add_option("--recompute", o->recompute,
                  "Activation recomputation: never, except_last, always (exact method); --search: only this "
                  "one (selective: per stage where memory binds)");
  cmd->add_option("--cost-model", o->cost_model,
                  "dp cost model: pipedream (exactly PipeDream's optimizer) or pipekit (default)");
  cmd->add_flag("--straight", o->straight, "dp: no replication, one device per stage");
  cmd->add_flag("--fewer-machines", o->fewer, "dp: allow leaving devices idle when that is faster");
  cmd->add_flag("--no-transfers", o->no_transfers,
                "Ignore activation transfers (PipeDream without --activation_compression_ratio)");
  cmd->add_option("--method", o->method,
                  "dp (PipeDream's dynamic program), exact (straight pipeline, memory-aware), or DeepSpeed's "
                  "uniform, parameters, type:REGEX");
  cmd->add_flag(
      "--search", o->search,
      "Try micro-batch sizes, pipeline depths and replication, every schedule, micro-batch counts, "
      "virtual stages 1..4 and recomputation (never, always, per stage where memory binds), score each "
      "by simulation, print a ranked table and why the best won (--schedule/--microbatches/--recompute "
      "narrow it; --out and --json give the best plan)");
  cmd->add_option("--microbatch-counts", o->microbatch_counts,
                  "--search: micro-batch counts to try, e.g. 4,6,8-32 (default: 1..4p, 6p, 8p per depth p)");
  cmd->add_option(
      "--microbatch-sizes", o->microbatch_sizes,
      "--search: micro-batch sizes to try, interpolated from the --profile sizes (default: those)");
  cmd->add_option("--global-batch", o->global_batch,
                  "--search/--peer: samples per minibatch; micro-batches = global batch / micro-batch size");
  cmd->add_option("--max-virtual", o->max_virtual, "--search: most chunks per rank to try (default 4)");
  cmd->add_option(
         "--shared-device", o->shared_capacity,
         "--search/--peer: every device is a process on one shared processor worth this many processes "
         "of compute (e.g. 4 ranks on 2 CPU cores: about 2; ranks time-sliced on one GPU: about 1; "
         "measure it with pipekit corun), and plans are scored with that sharing")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--peer", o->peer,
                  "Score another system's default plan with pipekit's simulator: megatron, "
                  "megatron-interleaved, deepspeed, torchtitan, torchtitan-interleaved, torchtitan-zbv "
                  "(planner/peer_plans.h states each rule)");
  cmd->add_option("--top", o->top, "--search: rows to print (default 10)");
  cmd->add_flag("--json", o->json, "Print the plan as JSON (pipekit-plan/1) instead of a table");
  cmd->add_option("--out", o->out, "Write the plan as JSON to this file");
  cmd->callback([o] { run_plan(*o); });
}

CommandRegistration reg(30, add_plan);

}  // namespace
}  // namespace pipekit::cli
