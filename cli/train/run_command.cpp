// pipekit run: train a model with a pipeline schedule across processes.
//
//   pipekit run --model gpt-tiny --schedule 1f1b --microbatches 4 --nproc 2 --verify
//   pipekit run --plan plan.json --nproc 4 --timeline t.json
//   torchrun-style: start WORLD_SIZE processes with RANK/MASTER_ADDR/MASTER_PORT
//   set and no --nproc. Everything is validated before any rank starts.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/command.h"
#include "cli/training_commands.h"
#include "core/error.h"
#include "core/schedule_traits.h"
#include "executor/launcher.h"
#include "executor/replica_layout.h"
#include "executor/run_config.h"
#include "executor/sim_vs_real.h"

namespace pipekit::cli {
namespace {

struct RunOptions {
  RunConfig config;
  int nproc = 0, nnodes = 1, node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  CompareOptions compare;  // --compare: predicted vs measured (executor/sim_vs_real.h)
  std::string optimizer = "adam";
};

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  try {
    return std::stoi(v);
  } catch (...) {
    throw InputError(name, "", std::string("environment variable is not an integer: '") + v + "'");
  }
}

void print_header(const RunConfig& c, int world) {
  const Schedule& s = c.schedule;
  const std::string seq = c.model.input() == InputKind::tokens ? fmt::format(", seq {}", c.seq) : "";
  fmt::print(
      "pipekit run: model {} ({} layers), schedule {} on {} ranks x {} stage(s) each, {} micro-batches of {} "
      "(batch {}{}), {} lr {}, {} steps, {}{}\n",
      c.model.name, c.model.num_layers(), s.kind, world, s.virtual_stages(), s.num_microbatches,
      c.batch / c.minibatch_mbs, c.batch, seq, to_string(c.optimizer), c.lr, c.steps, to_string(c.precision),
      mixed(c.precision) ? fmt::format(" (fp32 master weights, loss scale {})", c.loss_scaling) : "");
  if (c.async)
    fmt::print(
        "asynchronous: one stream of {} minibatches x {} micro-batches, no flush (steps = minibatches)\n",
        c.steps, c.minibatch_mbs);
  fmt::print("data: {}\n", c.data_description);
  const ReplicaLayout layout(c.group_replicas);
  for (std::size_t i = 0; i < c.stage_layers.size(); ++i) {
    const auto& l = c.stage_layers[i];
    const int g = s.stage_to_rank[i];
    if (layout.replicas(g) == 1)
      fmt::print("  stage {} on rank {}: layers {}..{}\n", i, layout.rank(g, 0), l.front(), l.back());
    else
      fmt::print("  stage {} on ranks {}..{} ({} replicas, {}): layers {}..{}\n", i, layout.rank(g, 0),
                 layout.rank(g, layout.replicas(g) - 1), layout.replicas(g),
                 c.async ? fmt::format("micro-batch g on replica g mod {}", layout.replicas(g))
                         : fmt::format("each a 1/{} of every micro-batch", layout.replicas(g)),
                 l.front(), l.back());
  }
  std::fflush(stdout);
}

// A resumed run says which checkpoint it continues from when that is not the
// newest: each one passed over and why (stderr; rank 0 also records it in
// --metrics).
void print_resume_choice(const RunConfig& c) {
  const ResumeChoice& r = c.resume_choice;
  for (const auto& n : r.notes) std::fprintf(stderr, "pipekit: note: %s\n", n.c_str());
  for (const auto& p : r.passed_over)
    std::fprintf(stderr, "pipekit: warning: checkpoint %s cannot be resumed from: %s\n", p.dir.c_str(),
                 p.why.c_str());
  if (r.fell_back())
    std::fprintf(stderr,
                 "pipekit: warning: resuming from the older checkpoint %s (step %d) instead; "
                 "--resume-exact would stop here\n",
                 r.dir.c_str(), r.step);
  std::fflush(stderr);
}

void run_training(RunOptions& o) {
  RunConfig& c = o.config;
  const bool child = launched_by_pipekit();
  const bool torchrun_style = !child && o.nproc == 0 && std::getenv("RANK") && std::getenv("WORLD_SIZE");
  c.optimizer = parse_optimizer(o.optimizer, "--optimizer", {Optimizer::adam, Optimizer::sgd});
  c.costs_profile = o.compare.profile_path;
  c.faults = FaultInjection::from_environment();
  if (const char* dir = std::getenv("PIPEKIT_PROGRESS_DIR")) c.progress_dir = dir;
  // The checkpoint pipekit's launcher verified before starting this rank.
  if (const char* v = std::getenv("PIPEKIT_RESUME_CHOICE"); child && v && *v)
    c.resume_choice = ResumeChoice::from_json(v, "PIPEKIT_RESUME_CHOICE");
  if (const char* v = std::getenv("PIPEKIT_SAMPLE"); child && v && *v) c.sample_hint = v;
  if (c.ranks == 0 && c.plan_path.empty() && c.schedule_path.empty()) {
    if (child || torchrun_style)
      c.ranks = env_int("WORLD_SIZE", 1);
    else
      c.ranks = o.nproc > 0 ? o.nproc * o.nnodes : 2;
    if (c.replicas > 1) c.ranks = std::max(1, c.ranks / c.replicas);  // the world is ranks x replicas
    if (!c.stage_replicas.empty())                                    // one entry per pipeline rank
      c.ranks = static_cast<int>(std::count(c.stage_replicas.begin(), c.stage_replicas.end(), ',')) + 1;
  }
  prepare_run(c);
  if (!o.compare.out.empty()) {
    if (c.timeline_path.empty()) c.timeline_path = compare_timeline_path(o.compare.out);
    if (!child && !torchrun_style) check_compare_options(c, o.compare);
  }
  if (c.start_step > 0 && !child && (!torchrun_style || env_int("RANK", 0) == 0)) print_resume_choice(c);
  const int ranks = c.world_size();  // every pipeline rank times its replicas
  const std::string what = !c.plan_path.empty() ? "plan " + c.plan_path : "schedule " + c.schedule.kind;

  if (child || torchrun_style) {
    RankIdentity id;
    id.rank = env_int("RANK", 0);
    id.world_size = env_int("WORLD_SIZE", 1);
    id.local_rank = env_int("LOCAL_RANK", id.rank);
    const char* addr = std::getenv("MASTER_ADDR");
    id.master_addr = addr && *addr ? addr : "127.0.0.1";
    id.master_port = env_int("MASTER_PORT", 29500);
    if (id.world_size != ranks)
      throw InputError("WORLD_SIZE", "",
                       fmt::format("{} needs {} ranks but WORLD_SIZE is {}", what, ranks, id.world_size));
    if (id.rank < 0 || id.rank >= id.world_size)
      throw InputError("RANK", "", fmt::format("rank {} is outside 0..{}", id.rank, id.world_size - 1));
    if (torchrun_style && id.rank == 0) print_header(c, ranks);
    exit_status() = run_rank(c, id);
    return;
  }
  if (o.nproc > 0) {
    if (o.nnodes < 1) throw InputError("--nnodes", "", "needs at least 1 node");
    if (o.node_rank < 0 || o.node_rank >= o.nnodes)
      throw InputError("--node-rank", "", fmt::format("must be in 0..{}", o.nnodes - 1));
    if (o.nnodes > 1 && o.master_port == 0)
      throw InputError("--master-port", "", "a multi-node run needs the same --master-port on every node");
    const int world = o.nproc * o.nnodes;
    if (world != ranks)
      throw InputError(
          o.nnodes > 1 ? "--nnodes/--nproc" : "--nproc", "",
          fmt::format("{} has {} pipeline ranks ({} stages) but the world size is {} ({} node(s) x {} "
                      "process(es)); start {} processes in all",
                      what, ranks, c.schedule.num_stages, world, o.nnodes, o.nproc, ranks));
    if (o.node_rank == 0) print_header(c, ranks);
    LaunchOptions lo;
    lo.nproc = o.nproc;
    lo.nnodes = o.nnodes;
    lo.node_rank = o.node_rank;
    lo.master_addr = o.master_addr;
    lo.master_port = o.master_port;
    lo.threads = c.threads;
    if (c.start_step > 0) lo.env.emplace_back("PIPEKIT_RESUME_CHOICE", c.resume_choice.to_json());
    if (const std::string hint = sample_hint_of(c); !hint.empty())
      lo.env.emplace_back("PIPEKIT_SAMPLE", hint);
    exit_status() = launch_ranks(lo);
    if (exit_status() == 0 && !o.compare.out.empty() && o.node_rank == 0)
      exit_status() = compare_with_simulation(c, o.compare);
    return;
  }
  if (ranks != 1)
    throw InputError("--nproc", "",
                     fmt::format("{} needs {} ranks: pass --nproc {}, or start {} processes with "
                                 "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set (as torchrun does)",
                                 what, ranks, ranks, ranks));
  print_header(c, 1);
  RankIdentity id;
  id.master_port = free_local_port();
  exit_status() = run_rank(c, id);
  if (exit_status() == 0 && !o.compare.out.empty()) exit_status() = compare_with_simulation(c, o.compare);
}

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  RunConfig& c = o->config;
  auto* cmd = app.add_subcommand("run", find_training_command("run")->description);
  cmd->add_option("--plan", c.plan_path, "Plan JSON (model, stages, schedule) to run");
  cmd->add_option("--schedule-file", c.schedule_path,
                  "A schedule (text, CSV or JSON) to run as is; lowered if needed");
  auto* model_opt = cmd->add_option("--model", c.model_name,
                                    "gpt-tiny, gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, mlp, or "
                                    "script:FILE[,FILE...] (TorchScript); "
                                    "overrides a plan's model")
                        ->capture_default_str();
  cmd->add_option("--stages", c.ranks, "Pipeline ranks (default: the world size)");
  cmd->add_option("--schedule", c.schedule_kind, schedule_name_list())->capture_default_str();
  cmd->add_option("--recompute", c.recompute, "gpipe recomputation: never, except_last, always")
      ->capture_default_str();
  cmd->add_option("--microbatches", c.microbatches, "Micro-batches per step")->capture_default_str();
  cmd->add_option("--virtual", c.virtual_stages, "Stages per rank (interleaved)")->capture_default_str();
  cmd->add_option(
         "--replicas", c.replicas,
         "Replicate every pipeline rank this many times (data parallel within each stage; flush schedules)")
      ->capture_default_str();
  cmd->add_option(
      "--stage-replicas", c.stage_replicas,
      "Replicas per pipeline rank, e.g. 3,1 (as PipeDream's planner replicates stages; flush schedules)");
  cmd->add_option("--batch", c.batch, "Samples per step (default 2 x micro-batches)");
  cmd->add_option("--seq", c.seq, "Tokens per sample (default min(context, 64))");
  cmd->add_option("--steps", c.steps, "Optimizer steps")->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "adam or sgd")->capture_default_str();
  cmd->add_option(
      "--precision", c.precision_name,
      "fp32, bf16 or fp16: working weights and activations in it, fp32 master weights and optimizer "
      "state (default: the plan's, else fp32)");
  cmd->add_option("--loss-scale", c.loss_scaling,
                  "dynamic, none, or a fixed scale (default: dynamic for fp16, none otherwise)");
  cmd->add_option("--loss-scale-init", c.loss_scale_init, "The dynamic loss scale's first value")
      ->capture_default_str();
  cmd->add_option("--loss-scale-window", c.loss_scale_window,
                  "Good steps in a row before the dynamic loss scale doubles")
      ->capture_default_str();
  cmd->add_option("--lr", c.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed of weights and random data")->capture_default_str();
  cmd->add_option("--data", c.data,
                  "Text file (byte tokens), a tensor file (.pt: torch.save((inputs, targets))), or 'random'; "
                  "default: the built-in corpus");
  cmd->add_option("--loss", c.loss,
                  "cross_entropy, mse, or script:FILE (a scripted (output, target) -> scalar); default: "
                  "cross_entropy for class ids, mse for float targets");
  cmd->add_flag("--tie-weights", c.tie_weights, "Share the gpt token embedding with the LM head");
  cmd->add_option("--vocab", c.vocab, "gpt vocabulary size (default 256, byte-level; 50257 = GPT-2's)");
  cmd->add_option("--timeline", c.timeline_path, "Write the measured timeline of the last step (JSON)");
  cmd->add_option("--metrics", c.metrics_path,
                  "Write one JSON line per step (step, loss, samples_per_s, ...)");
  cmd->add_flag("--verify", c.verify, "Also train in one process and compare parameters per stage");
  cmd->add_option("--tolerance", c.verify_tolerance, "--verify: largest allowed relative difference")
      ->capture_default_str();
  cmd->add_option("--threads", c.threads, "Intra-op threads per rank")->capture_default_str();
  cmd->add_option("--recv-lookahead", c.recv_lookahead,
                  "Post each receive this many compute actions before the one that uses it (0: where the "
                  "schedule puts it; default 2, or 0 for --device cuda on a build with NCCL)");
  cmd->add_option(
         "--device", c.device,
         "cpu, or cuda: each rank computes on GPU LOCAL_RANK % visible GPUs (NCCL between distinct GPUs, "
         "Gloo through host memory between ranks sharing one)")
      ->capture_default_str();
  cmd->add_option("--timeout", c.timeout_s, "Seconds any wait on another rank may take")
      ->capture_default_str();
  cmd->add_flag("--quiet", c.quiet, "Print no per-step lines");
  cmd->add_option(
      "--checkpoint-dir", c.checkpoint_dir,
      "Write checkpoints (weights, optimizer state, a manifest with every file's size and checksum; "
      "pipedream/2bw: also weight versions and micro-batches in flight) here");
  cmd->add_option("--checkpoint-every", c.checkpoint_every,
                  "Steps (pipedream/2bw: minibatches) between checkpoints (0: after the last step only)")
      ->capture_default_str();
  cmd->add_flag("--resume", c.resume,
                "Continue from the newest checkpoint in --checkpoint-dir, verified first; when it is damaged "
                "or incomplete, from the newest intact older one (saying so)");
  cmd->add_flag("--resume-exact", c.resume_exact,
                "As --resume, but stop (exit 2) instead of falling back to an older checkpoint");
  cmd->add_option("--keep-checkpoints", c.keep_checkpoints,
                  "Keep the N newest complete checkpoints, deleting older ones once a newer one is written "
                  "and verified (0: keep all)")
      ->capture_default_str();
  cmd->add_flag("--predict-memory", c.predict_memory,
                "Print each rank's measured peak memory beside the simulator's prediction");
  cmd->add_option("--compare", o->compare.out,
                  "Also simulate this run from a profile measured now and write predicted vs measured (JSON) "
                  "and an HTML report with both timelines");
  cmd->add_option("--profile", o->compare.profile_path,
                  "--compare: use this profile instead of measuring one; zb-auto and zb-interleaved "
                  "without --plan: order by its costs (else unit costs)");
  cmd->add_option(
      "--capacity", o->compare.capacity,
      "--compare: compute the ranks sharing this machine get together, in ranks' worth (skips the "
      "co-run probe; see pipekit corun)");
  cmd->add_option("--draws", o->compare.draws,
                  "--compare: Monte Carlo draws for the predicted step's p10/p50/p90")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--spread-seed", o->compare.seed, "--compare: the draws' seed (same seed, same band)")
      ->capture_default_str();
  cmd->add_option("--html", o->compare.html,
                  "--compare: report file (default: the --compare file with .html)");
  cmd->add_option("--nproc", o->nproc, "Start this many local ranks (per node)");
  cmd->add_option("--nnodes", o->nnodes, "Nodes taking part")->capture_default_str();
  cmd->add_option("--node-rank", o->node_rank, "This node's index")->capture_default_str();
  cmd->add_option("--master-addr", o->master_addr, "Address of rank 0's node")->capture_default_str();
  cmd->add_option("--master-port", o->master_port, "Rendezvous port (default: a free port, single node)");
  cmd->callback([o, model_opt] {
    o->config.model_given = model_opt->count() > 0;
    run_training(*o);
  });
}

CommandRegistration reg(60, add_run);

}  // namespace
}  // namespace pipekit::cli
