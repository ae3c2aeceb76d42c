// prepare_run(): everything about a job that can be wrong is found here, in the
// launching process, before any rank starts (InputError -> exit 2).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "core/error.h"
#include "core/formats.h"
#include "core/schedule_traits.h"
#include "executor/batch_source.h"
#include "executor/checkpoint.h"
#include "executor/gpu_transport.h"
#include "executor/loss_function.h"
#include "executor/loss_scaler.h"
#include "executor/model_layers.h"
#include "executor/run_config.h"
#include "executor/tensor_data.h"
#include "passes/early_receives.h"
#include "passes/lowering.h"
#include "passes/round_robin.h"
#include "passes/stream_cut.h"
#include "planner/schedule_costs.h"
#include "planner/schedule_generator.h"
#include "simulator/stage_costs.h"

namespace pipekit {
namespace {

// The data, the model's input as a tensor file holds it, and the loss its
// targets imply; then one micro-batch through every layer of a TorchScript
// model and its loss, so that a shape or a target that does not fit stops the
// job here with the layer named, not inside a rank.
void resolve_data_and_loss(RunConfig& c) {
  if (!c.sample_hint.empty()) {  // a rank of pipekit's launcher: the launcher checked it all
    const auto bar = c.sample_hint.find('|'), bar2 = c.sample_hint.find('|', bar + 1);
    c.model.sample_dtype = c.sample_hint.substr(0, bar);
    c.model.sample_shape =
        parse_sample_shape(c.sample_hint.substr(bar + 1, bar2 - bar - 1), "PIPEKIT_SAMPLE");
    c.loss = c.sample_hint.substr(bar2 + 1);
    c.data_description = c.data;
    return;
  }
  BatchSource probe(c.model, c.data, c.batch, c.seq, c.minibatch_mbs, c.seed);  // reads and checks the data
  c.data_description = probe.description();
  if (c.model.kind != ModelKind::torchscript) {
    if (!c.loss.empty() && c.loss != "cross_entropy")
      throw InputError("--loss", "",
                       "built-in models train with cross_entropy (next token, or the mlp's class); --loss "
                       "is for TorchScript models");
    c.loss = "cross_entropy";
    return;
  }
  const auto tensors = probe.tensors();
  if (tensors) {
    take_inputs_of(c.model, *tensors);
    if (c.loss.empty()) c.loss = LossFunction::default_for(tensors->targets);
  }
  if (c.loss.empty()) c.loss = "cross_entropy";
  check_model_on_data(c.model, probe.get(0, 0), LossFunction::parse(c.loss, "--loss"),
                      c.data.empty() ? "the built-in corpus" : c.data,
                      tensors ? tensors->targets : torch::Tensor());
}

std::vector<std::vector<int>> uniform_split(int layers, int stages) {
  std::vector<std::vector<int>> out(stages);
  int next = 0;
  for (int s = 0; s < stages; ++s) {
    const int n = layers / stages + (s < layers % stages ? 1 : 0);
    for (int k = 0; k < n; ++k) out[s].push_back(next++);
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Schedule load_schedule_file(const std::string& path) {
  std::string text = read_text_file(path);
  if (ends_with(path, ".json")) return schedule_from_json(text, path);
  if (ends_with(path, ".csv")) return parse_schedule_csv(text, path);
  return parse_schedule_text(text, path);
}

void check_actions(const Schedule& s, const std::string& source) {
  for (std::size_t r = 0; r < s.actions.size(); ++r)
    for (const Action& a : s.actions[r])
      if (a.type == ActionType::REDUCE_GRAD)
        throw InputError(source, "rank " + std::to_string(r) + ": " + to_string(a),
                         "the executor runs straight pipelines only (no replicated stages, no REDUCE_GRAD)");
}

// Micro-batches per minibatch of a 2bw schedule: its first STEP follows the
// backward of the minibatch's last micro-batch.
int two_bw_minibatch(const Schedule& s) {
  const auto& list = s.actions.at(0);
  int last_b = -1;
  for (const Action& a : list) {
    if (a.type == ActionType::B) last_b = a.microbatch;
    if (a.type == ActionType::STEP) return last_b + 1;
  }
  return s.num_microbatches;
}

// Asynchronous schedules: how many micro-batches make a minibatch, and the
// checks the weight-version rules need.
void resolve_async(RunConfig& c, int spec_microbatches, const std::string& source) {
  const Schedule& s = c.schedule;
  c.traits = &schedule_traits_or_custom(s.kind);
  c.async = c.traits->asynchronous();
  const bool delayed = c.traits->update == WeightUpdate::delayed_minibatch;
  if (!c.async) {
    c.minibatch_mbs = s.num_microbatches;
    c.loss_divisor = s.num_microbatches;
    return;
  }
  const int m = delayed ? two_bw_minibatch(s) : spec_microbatches;
  if (m < 1 || s.num_microbatches % m != 0)
    throw InputError(source, "",
                     "the " + s.kind + " stream of " + std::to_string(s.num_microbatches) +
                         " micro-batches does not split into minibatches of " + std::to_string(m) +
                         "; pass --microbatches that divides it");
  if (delayed && m < s.num_ranks - 1)
    throw InputError(
        "--microbatches", "",
        "2bw needs at least ranks-1 = " + std::to_string(s.num_ranks - 1) +
            " micro-batches per minibatch (so that the weights of minibatch t-1 exist when minibatch t+1 "
            "starts), got " +
            std::to_string(m));
  c.minibatch_mbs = m;
  // pipedream updates after every micro-batch: each one's loss is a whole minibatch's.
  c.loss_divisor = c.traits->update == WeightUpdate::every_microbatch ? 1 : m;
  c.steps = s.num_microbatches / m;
}

// The precision: --precision, else the plan's, else fp32; a plan made for
// another precision is refused (its memory was planned for that one). Then
// whether this LibTorch can train in it on the device, and the loss scaling.
void resolve_precision(RunConfig& c, const Plan& plan) {
  if (!c.precision_name.empty()) {
    c.precision = parse_precision(c.precision_name, "--precision");
    if (!c.plan_path.empty() && plan.precision != c.precision)
      throw InputError(
          "--precision", c.plan_path,
          fmt::format("the plan was made for {}, this run asks for {}; run it with --precision {}, "
                      "or plan again with --precision {}",
                      to_string(plan.precision), to_string(c.precision), to_string(plan.precision),
                      to_string(c.precision)));
  } else {
    c.precision = c.plan_path.empty() ? Precision::fp32 : plan.precision;
  }
  if (c.device == "cuda" && !PIPEKIT_TORCH_CUDA) return;  // refused above
  const torch::Device device =
      c.device == "cuda" ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (const std::string why = precision_unsupported(c.precision, device); !why.empty())
    throw InputError(
        "--precision", "",
        fmt::format("this LibTorch cannot train in {} on the {} ({}); {}", to_string(c.precision), c.device,
                    why,
                    c.device == "cpu" ? "use --precision bf16 (or fp32) on the CPU, or fp16 on a GPU"
                                      : "use --precision fp16 or fp32 on this GPU"));
  if (c.loss_scaling.empty()) c.loss_scaling = c.precision == Precision::fp16 ? "dynamic" : "none";
  const LossScaler scaler =
      LossScaler::parse(c.loss_scaling, c.loss_scale_init, c.loss_scale_window, "--loss-scale");
  if (scaler.active() && c.async)
    throw InputError(
        "--loss-scale", "",
        fmt::format("loss scaling needs every rank to decide together at a flush, and {} has none; "
                    "train {} in bf16 (no loss scaling), or use a flush schedule for fp16",
                    c.schedule.kind, c.schedule.kind));
}

}  // namespace

std::vector<int> RunConfig::replica_counts() const {
  return group_replicas.empty() ? std::vector<int>(schedule.num_ranks, replicas) : group_replicas;
}

bool RunConfig::replicated() const {
  const auto counts = replica_counts();
  return std::any_of(counts.begin(), counts.end(), [](int r) { return r > 1; });
}

int RunConfig::world_size() const {
  const auto counts = replica_counts();
  return std::accumulate(counts.begin(), counts.end(), 0);
}

std::string sample_hint_of(const RunConfig& c) {
  if (c.model.input() != InputKind::tensors) return "";
  return fmt::format("{}|{}|{}", c.model.sample_dtype, fmt::join(c.model.sample_shape, ","), c.loss);
}

void prepare_run(RunConfig& c) {
  Plan plan;
  if (!c.plan_path.empty()) {
    plan = plan_from_json(read_text_file(c.plan_path), c.plan_path);
    if (!plan.model.empty() && !c.model_given) c.model_name = plan.model;
  }
  // A plan from PipeDream's program may replicate stages: then the pipeline
  // has one rank per stage, each with its replicas.
  const bool plan_replicated = std::any_of(plan.stages.begin(), plan.stages.end(),
                                           [](const PlanStage& st) { return st.replicas > 1; });
  c.model = resolve_model(c.model_name, c.vocab, c.plan_path.empty() ? "--model" : c.plan_path);
  if (c.tie_weights) {
    if (c.model.kind != ModelKind::gpt)
      throw InputError("--tie-weights", "",
                       "only the built-in gpt models have an embedding and a head to tie");
    c.model.tie_weights = true;
  }
  const int layers = c.model.num_layers();

  if (!c.plan_path.empty()) {
    validate(plan, c.plan_path, layers);
    ScheduleSpec spec = plan.schedule;
    if (schedule_traits(spec.kind, c.plan_path).asynchronous()) spec.minibatches = c.steps;
    // Replicated stages: the pipeline has one rank per stage, each with its
    // replicas; otherwise the plan's ranks are the pipeline's.
    const int pipeline_ranks = plan_replicated ? static_cast<int>(plan.stages.size()) : plan.num_ranks();
    c.schedule = lower_schedule(generate_schedule(spec, pipeline_ranks));
    if (c.schedule.num_stages != static_cast<int>(plan.stages.size()))
      throw InputError(c.plan_path, "$.stages",
                       "the plan has " + std::to_string(plan.stages.size()) + " stages but its schedule (" +
                           plan.schedule.kind + " on " + std::to_string(plan.num_ranks()) +
                           " ranks, virtual " + std::to_string(plan.schedule.virtual_stages) + ") has " +
                           std::to_string(c.schedule.num_stages));
    c.stage_layers.clear();
    for (std::size_t i = 0; i < plan.stages.size(); ++i) {
      if (!plan_replicated && plan.stages[i].ranks[0] != c.schedule.stage_to_rank[i])
        throw InputError(c.plan_path, "$.stages[" + std::to_string(i) + "].ranks",
                         "stage " + std::to_string(i) + " is placed on rank " +
                             std::to_string(plan.stages[i].ranks[0]) + " but the " + plan.schedule.kind +
                             " schedule runs it on rank " + std::to_string(c.schedule.stage_to_rank[i]));
      c.stage_layers.push_back(plan.stages[i].layers);
      std::sort(c.stage_layers.back().begin(), c.stage_layers.back().end());
    }
    if (c.batch == 0 && plan.microbatch_size > 0) c.batch = plan.microbatch_size * plan.schedule.microbatches;
  } else {
    if (!c.schedule_path.empty()) {
      c.schedule = load_schedule_file(c.schedule_path);
      if (!c.schedule.lowered()) c.schedule = lower_schedule(c.schedule);
    } else {
      if (c.ranks < 1) throw InputError("--stages", "", "needs at least 1 stage");
      ScheduleSpec spec;
      spec.kind = c.schedule_kind;
      spec.microbatches = c.microbatches;
      spec.virtual_stages = c.virtual_stages;
      const ScheduleTraits& t = schedule_traits(spec.kind);
      if (t.asynchronous()) spec.minibatches = c.steps;
      if (!recompute_from_string(c.recompute, spec.recompute))
        throw InputError("--recompute", "", "'" + c.recompute + "' is not one of never, except_last, always");
      // A cost-aware order asked for by name: built for the profile's costs
      // of the uniform split at this micro-batch (free links: the run
      // measures none beforehand), as `plan` would build it; without a
      // profile, unit costs.
      const int stages = c.ranks * t.chunks(spec.virtual_stages);
      if (t.uses_costs && !c.costs_profile.empty() && stages <= layers) {
        const Profile prof = profile_from_json(read_text_file(c.costs_profile), c.costs_profile);
        if (static_cast<int>(prof.layers.size()) != layers)
          throw InputError(c.costs_profile, "$.layers",
                           fmt::format("the profile has {} layers but the model has {}; profile this model",
                                       prof.layers.size(), layers));
        const int rows = c.batch > 0 ? std::max(1, c.batch / std::max(1, c.microbatches)) : 2;
        CostHintOptions ho;
        ho.optimizer = c.optimizer;
        ho.precision = prof.precision();
        ho.recompute = spec.recompute;
        spec.cost_hint =
            schedule_cost_hint(stage_costs_from_layers(prof, uniform_split(layers, stages), rows), spec.kind,
                               c.ranks, flat_cluster(c.ranks, 0), ho);
      }
      c.schedule = lower_schedule(generate_schedule(spec, c.ranks));
    }
    if (c.schedule.num_stages > layers)
      throw InputError(c.schedule_path.empty() ? "--stages" : c.schedule_path, "",
                       "the model has " + std::to_string(layers) + " layers, fewer than the " +
                           std::to_string(c.schedule.num_stages) + " pipeline stages asked for");
    c.stage_layers = uniform_split(layers, c.schedule.num_stages);
  }
  const std::string source =
      c.plan_path.empty() ? (c.schedule_path.empty() ? "--schedule" : c.schedule_path) : c.plan_path;
  check_actions(c.schedule, source);
  if (c.steps < 1) throw InputError("--steps", "", "needs at least 1 step");
  resolve_async(c, c.plan_path.empty() ? c.microbatches : plan.schedule.microbatches, source);
  // Receives are posted ahead of their use (Gloo moves a payload only once its
  // receive is posted). NCCL queues a receive on the stream its sends to the
  // same peer use, where an early receive could hold up a send the peer waits
  // for, so CUDA ranks of an NCCL build keep the schedule's positions unless told.
  if (c.recv_lookahead < -1)
    throw InputError("--recv-lookahead", "", "needs 0 (post where the schedule says) or more");
  if (c.recv_lookahead == -1) c.recv_lookahead = c.device == "cuda" && PIPEKIT_TORCH_NCCL ? 0 : 2;
  c.schedule = post_receives_early(c.schedule, c.recv_lookahead);

  const int m = c.minibatch_mbs;
  if (c.batch == 0) c.batch = 2 * m;
  if (c.batch < m || c.batch % m != 0)
    throw InputError("--batch", "",
                     "batch " + std::to_string(c.batch) + " does not split into " + std::to_string(m) +
                         " equal micro-batches; use a multiple of " + std::to_string(m));
  if (c.seq == 0) c.seq = c.model.kind == ModelKind::gpt ? std::min(c.model.context, 64) : 32;
  if (c.model.kind == ModelKind::gpt && (c.seq < 1 || c.seq > c.model.context))
    throw InputError(
        "--seq", "",
        "sequence length must be 1.." + std::to_string(c.model.context) + " for " + c.model.name);
  if (c.steps < 1) throw InputError("--steps", "", "needs at least 1 step");
  if (c.optimizer != Optimizer::adam && c.optimizer != Optimizer::sgd)
    throw InputError("--optimizer", "", "'" + to_string(c.optimizer) + "' is not one of adam, sgd");
  if (!(c.lr > 0)) throw InputError("--lr", "", "learning rate must be positive");
  if (c.threads < 1) throw InputError("--threads", "", "needs at least 1 thread");
  if (c.device != "cpu" && c.device != "cuda")
    throw InputError("--device", "", "'" + c.device + "' is not one of cpu, cuda");
  if (c.device == "cuda" && !PIPEKIT_TORCH_CUDA)
    throw InputError("--device", "",
                     "this pipekit was built against a LibTorch without CUDA; use --device cpu, or "
                     "build with -DCMAKE_PREFIX_PATH=<CUDA LibTorch>");
  if (!(c.timeout_s > 0)) throw InputError("--timeout", "", "must be positive seconds");
  resolve_precision(c, plan);
  c.model.probe_seq = c.seq;
  resolve_data_and_loss(c);

  // Replicas per pipeline rank: the plan's, --stage-replicas, or --replicas for all.
  if (c.replicas < 1) throw InputError("--replicas", "", "needs at least 1 replica");
  const int groups = c.schedule.num_ranks;
  std::string rsource = "--replicas";
  c.group_replicas.assign(groups, c.replicas);
  if (!c.stage_replicas.empty()) {
    rsource = "--stage-replicas";
    if (plan_replicated)
      throw InputError("--stage-replicas", "",
                       "the plan already says how each stage is replicated; drop one of them");
    if (c.replicas != 1)
      throw InputError("--stage-replicas", "", "give --replicas or --stage-replicas, not both");
    c.group_replicas.clear();
    if (c.stage_replicas.back() == ',' || c.stage_replicas.front() == ',' ||
        c.stage_replicas.find(",,") != std::string::npos)
      throw InputError("--stage-replicas", "", "'" + c.stage_replicas + "' has an empty count; e.g. 3,1");
    std::stringstream in(c.stage_replicas);
    for (std::string part; std::getline(in, part, ',');) {
      int r = 0;
      try {
        std::size_t used = 0;
        r = std::stoi(part, &used);
        if (used != part.size()) r = 0;
      } catch (...) {
        r = 0;
      }
      if (r < 1 || r > 1024)
        throw InputError("--stage-replicas", "", "'" + part + "' is not a replica count (1..1024); e.g. 3,1");
      c.group_replicas.push_back(r);
    }
    if (static_cast<int>(c.group_replicas.size()) != groups)
      throw InputError(
          "--stage-replicas", "",
          fmt::format("{} counts for {} pipeline ranks; give one per rank", c.group_replicas.size(), groups));
  } else if (plan_replicated) {
    // A plan from PipeDream's program: stage i (one per pipeline rank) has
    // plan.stages[i].replicas devices.
    rsource = c.plan_path;
    if (c.replicas != 1)
      throw InputError("--replicas", "", "the plan already says how each stage is replicated");
    if (c.schedule.virtual_stages() > 1)
      throw InputError(c.plan_path, "$.stages", "replicated stages run with one stage per pipeline rank");
    // The executor numbers replicas stage after stage; a plan that places
    // them otherwise would silently run elsewhere than it says.
    int next = 0;
    for (int g = 0; g < groups; ++g) {
      c.group_replicas[g] = plan.stages[g].replicas;
      for (int k = 0; k < plan.stages[g].replicas; ++k, ++next)
        if (plan.stages[g].ranks.at(k) != next)
          throw InputError(
              c.plan_path, fmt::format("$.stages[{}].ranks[{}]", g, k),
              fmt::format("is {}, but replicated stages run on consecutive ranks, stage after stage: "
                          "stage {} needs ranks {}..{}",
                          plan.stages[g].ranks.at(k), g, next - k, next - k + plan.stages[g].replicas - 1));
    }
  }
  if (c.replicated()) {
    // Asynchronous schedules deal whole micro-batches round-robin among a
    // stage's replicas (as PipeDream does); flush schedules split each one.
    const bool every_microbatch = c.traits->update == WeightUpdate::every_microbatch;
    if (every_microbatch)
      for (int r : c.group_replicas)
        if (m % r != 0)
          throw InputError(
              rsource, "",
              fmt::format("pipedream deals micro-batches round-robin among a stage's replicas, and "
                          "every replica must take as many: use --microbatches that is a "
                          "multiple of {}",
                          r));
    // pipedream's per-backward all-reduce can wait on a forward the replica
    // runs only after it (passes/round_robin.h): refuse what would hang.
    if (c.async) {
      auto stuck = round_robin_deadlocks(c.schedule, c.group_replicas, every_microbatch);
      if (!stuck.empty())
        throw InputError(
            rsource, "",
            fmt::format("{} with these replicas would deadlock ({}{}); use at most 2 replicas per "
                        "stage, or 2bw, or a flush schedule",
                        c.schedule.kind, stuck[0],
                        stuck.size() > 1 ? fmt::format(", and {} more", stuck.size() - 1) : ""));
    }
    for (int r : c.group_replicas)
      if (!c.async && (c.batch / m) % r != 0)
        throw InputError(
            rsource, "",
            fmt::format("a micro-batch of {} samples does not split among {} replicas; use a --batch "
                        "that is a multiple of {}",
                        c.batch / m, r, m * r));
    if (c.model.tie_weights && c.async)
      throw InputError(
          rsource, "",
          "--tie-weights with replicated stages runs flush schedules only, not " + c.schedule.kind);
    if (c.model.tie_weights && c.group_replicas.at(c.schedule.stage_to_rank.front()) !=
                                   c.group_replicas.at(c.schedule.stage_to_rank.back()))
      throw InputError(rsource, "", "--tie-weights needs as many replicas of the first stage as of the last");
  }
  if (c.resume_exact) c.resume = true;
  if (c.resume && c.checkpoint_dir.empty())
    throw InputError(c.resume_exact ? "--resume-exact" : "--resume", "",
                     "needs --checkpoint-dir D to resume from");
  if (c.keep_checkpoints < 0) throw InputError("--keep-checkpoints", "", "must be 0 (keep all) or more");
  if (c.keep_checkpoints > 0 && c.checkpoint_dir.empty())
    throw InputError("--keep-checkpoints", "", "needs --checkpoint-dir D");
  if (c.checkpoint_every < 0)
    throw InputError("--checkpoint-every", "", "must be 0 (only after the last step) or more");
  if (!c.checkpoint_dir.empty()) {
    // Asynchronous streams are cut after a minibatch (passes/stream_cut.h):
    // check every cut this run will write or resume from can be rebuilt.
    if (c.async)
      for (int k = 1; k <= c.steps; ++k) {
        if (!c.checkpoint_after(k)) continue;
        try {
          stream_cut(c.schedule, k * c.minibatch_mbs);
        } catch (const std::invalid_argument& e) {
          throw InputError("--checkpoint-dir", source,
                           fmt::format("this {} stream cannot be checkpointed after minibatch {}: {}",
                                       c.schedule.kind, k, e.what()));
        }
      }
    if (c.resume) {
      c.start_step = find_resume_step(c);
    } else {
      std::error_code ec;
      std::filesystem::create_directories(c.checkpoint_dir, ec);
      if (ec || !std::filesystem::is_directory(c.checkpoint_dir))
        throw InputError("--checkpoint-dir", c.checkpoint_dir,
                         "cannot create this directory: " + ec.message());
    }
  }
}

}  // namespace pipekit
