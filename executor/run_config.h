// Everything one rank needs to run a training job, as plain data (no LibTorch),
// and the entry points the `pipekit run` command calls.
//
// prepare_run() resolves and validates the whole job in the launching process,
// before any rank starts: model, data, layer split, and the lowered schedule
// every rank then executes unchanged. Each rank re-runs prepare_run() from the
// same arguments (it is deterministic) and calls run_rank() with its identity.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/resume_choice.h"
#include "core/optimizer.h"
#include "core/precision.h"
#include "core/schedule.h"
#include "core/schedule_traits.h"
#include "executor/fault_injection.h"
#include "executor/model_spec.h"

namespace pipekit {

struct RunConfig {
  // What the user asked for.
  std::string model_name = "gpt-tiny";
  bool model_given = false;   // --model given: it wins over a plan's model name
  std::string plan_path;      // --plan: overrides model, stages, schedule
  std::string schedule_path;  // --schedule-file: a lowered schedule to run as is
  int ranks = 0;              // pipeline ranks (depth), 0: the world size; stages = ranks * virtual
  std::string schedule_kind = "1f1b";
  // A profile (--profile) whose costs order a cost-aware schedule (zb-auto,
  // zb-interleaved) asked for without a plan; empty: unit costs.
  std::string costs_profile;
  std::string recompute = "never";
  int microbatches = 4;
  int virtual_stages = 1;
  int replicas = 1;            // --replicas: every pipeline rank replicated (data parallel within the stage)
  std::string stage_replicas;  // --stage-replicas 3,1: replicas per pipeline rank
  int batch = 0;               // 0: 2 * microbatches
  int seq = 0;                 // 0: min(context, 64)
  int steps = 3;
  Optimizer optimizer = Optimizer::adam;  // the executor runs adam and sgd
  std::string precision_name;             // --precision as given; "": the plan's, else fp32
  // Loss scaling (executor/loss_scaler.h): "dynamic", "none", or a fixed
  // scale; "": dynamic for fp16, none otherwise.
  std::string loss_scaling;
  double loss_scale_init = 65536;  // the dynamic scale's start
  int loss_scale_window = 1000;    // good steps in a row before it doubles
  double lr = 1e-3;
  std::uint64_t seed = 1234;
  std::string data;  // "", "random", a tensor file (.pt) or a text file
  // --loss: cross_entropy, mse or script:FILE; "": what the targets imply
  // (resolved by prepare_run; executor/loss_function.h).
  std::string loss;
  // Set by pipekit's launcher for its ranks: the tensor data's sample dtype and
  // shape and the resolved loss ("float32|3,32,32|cross_entropy"), so that a rank whose stages need no data
  // never reads the file (PIPEKIT_SAMPLE).
  std::string sample_hint;
  bool tie_weights = false;
  int vocab = 0;  // 0: model default
  std::string timeline_path, metrics_path;
  bool verify = false;
  double verify_tolerance = 1e-5;  // relative to the stage's largest |parameter|
  int threads = 1;
  // Post each receive this many compute actions early (passes/early_receives.h);
  // -1: 2, or 0 with --device cuda on a build with NCCL (its receives queue behind sends).
  int recv_lookahead = -1;
  std::string device = "cpu";  // cpu | cuda: where each rank's stages compute
  double timeout_s = 120;      // every wait on another rank
  bool quiet = false;
  bool predict_memory = false;
  std::string checkpoint_dir;  // --checkpoint-dir: write checkpoints here
  int checkpoint_every = 0;    // steps between checkpoints; 0: only after the last step
  bool resume = false;         // continue from the newest intact checkpoint in checkpoint_dir
  bool resume_exact = false;   // --resume-exact: the newest checkpoint or nothing (no fallback)
  int keep_checkpoints = 0;    // --keep-checkpoints N: the N newest complete ones; 0: all
  // The checkpoint to resume from, chosen by prepare_run (find_resume_step);
  // pipekit's launcher hands its choice to its ranks (PIPEKIT_RESUME_CHOICE),
  // which then do not read every byte again.
  ResumeChoice resume_choice;
  int start_step = 0;        // resolved: steps already done (from the checkpoint)
  FaultInjection faults;     // test hooks, parsed once by the command (executor/fault_injection.h)
  std::string progress_dir;  // the launcher's PIPEKIT_PROGRESS_DIR: ranks record their last completed step

  // Resolved by prepare_run().
  Precision precision = Precision::fp32;
  ModelSpec model;
  Schedule schedule;                           // lowered
  const ScheduleTraits* traits = nullptr;      // schedule.kind's row (custom for a file's unknown name)
  std::vector<std::vector<int>> stage_layers;  // per global stage, layer indices
  std::string data_description;
  // Replicas of each pipeline rank (from the plan, --stage-replicas or
  // --replicas; all 1 without replication); world size = their sum.
  std::vector<int> group_replicas;
  // Replicas per pipeline rank: group_replicas, or --replicas for every rank
  // before prepare_run() fills it.
  std::vector<int> replica_counts() const;
  bool replicated() const;  // some pipeline rank has more than one replica
  int world_size() const;
  // Whether a checkpoint is written after step (asynchronous: minibatch) k:
  // every --checkpoint-every steps, and after the last.
  bool checkpoint_after(int k) const {
    return !checkpoint_dir.empty() && (k == steps || (checkpoint_every > 0 && k % checkpoint_every == 0));
  }
  // Asynchronous schedules (pipedream, 2bw): the schedule is one stream of
  // `steps` minibatches of `minibatch_mbs` micro-batches each, run once with no
  // flush; stream micro-batch g is micro-batch g % m of minibatch g / m.
  bool async = false;
  int minibatch_mbs = 0;  // micro-batches per minibatch (= schedule.num_microbatches for flush schedules)
  int loss_divisor = 0;   // each micro-batch's mean loss is divided by this (m; 1 for pipedream)
};

struct RankIdentity {
  int rank = 0, world_size = 1;
  int local_rank = 0;  // index on this host: picks the rank's GPU
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Throws InputError for anything wrong with the job (exit 2 before any rank starts).
void prepare_run(RunConfig& c);

// What pipekit's launcher hands its ranks as PIPEKIT_SAMPLE (read back into
// sample_hint): the sample dtype, shape and resolved loss; "" unless the
// model takes tensors.
std::string sample_hint_of(const RunConfig& c);

// Runs this rank's part of the job; returns the process exit status (non-zero
// when --verify found differences). Throws on communication failures/timeouts.
int run_rank(const RunConfig& c, const RankIdentity& id);

}  // namespace pipekit
