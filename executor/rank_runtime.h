// RankRunner: one rank of a pipeline job (run_rank() in run_config.h). It
// builds only its stages' layers, then executes its action list of the
// lowered schedule, step after step:
//   F  forward of one micro-batch; the stage input (a leaf) and output (with
//      its autograd graph) are kept until B. Stages that have R actions run F
//      under NoGradGuard and keep only the input.
//   R  recompute the forward with autograd from the kept input.
//   B  backward from the loss (last stage) or the received output gradient;
//      the input's gradient is kept for SEND_B (or the previous local stage).
//   I, W  zero-bubble: I computes only the input gradient (graph retained),
//      W the parameter gradients later, added to .grad.
//   SEND_*, RECV_*  posted asynchronously (executor/rank_transport.h); stages
//      on the same rank hand tensors over directly.
//   STEP  the stage's optimizer step, after summing tied gradients and
//      all-reducing replicas' gradients; with loss scaling, only once every
//      rank agreed that no gradient overflowed (executor/loss_scaler.h).
// Mixed precision (core/precision.h): the layers compute in bf16/fp16; each
// backward's gradients are folded into fp32 master weights, which the
// optimizer updates and copies back (executor/master_weights.h).
// Asynchronous schedules (pipedream, 2bw) run the whole action list once as a
// stream with weight stashing (executor/weight_stash.h).
// Failures: every wait is bounded by --timeout; errors name the action, step,
// peer rank and last completed step; NaN/inf outputs stop the run.
//
// Where each part lives:
//   rank_runtime.cpp     building the stages, the step loop, the action dispatch
//   stage_compute.cpp    F, R, B, I, W
//   gradient_sync.cpp    STEP: tied weights and replicas' gradients, the update
//   rank_checkpoint.cpp  writing and resuming checkpoints (files: checkpoint.h)
//   rank_verify.cpp      --verify against one-process training
//   rank_transport.h     messages; rank_timeline.h the measured timeline;
//   step_report.h        losses, console lines, metrics, memory report
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "checkpoint/manifest.h"
#include "checkpoint/write_point.h"
#include "core/action.h"
#include "executor/batch_source.h"
#include "executor/local_stage.h"
#include "executor/loss_scaler.h"
#include "executor/rank_timeline.h"
#include "executor/rank_transport.h"
#include "executor/replica_layout.h"
#include "executor/run_config.h"
#include "executor/step_report.h"
#include "passes/stream_cut.h"

namespace pipekit {

class RankRunner {
 public:
  RankRunner(const RunConfig& c, const RankIdentity& id);
  int run();

 private:
  // rank_runtime.cpp
  void build();
  LocalStage& local(int stage);
  bool is_local(int stage) const {
    return stage >= 0 && stage < num_stages_ && c_.schedule.stage_to_rank[stage] == prank_;
  }
  bool runs_here(std::size_t position) const {
    return owners_.empty() || owners_[position] < 0 || owners_[position] == net_.replica();
  }
  void plan_stream();
  void resume();
  void begin_pass(int step);
  void run_actions(int step);
  void run_action(std::size_t i, int step, int finished);
  std::string failure_peer(const Action& a) const;
  void end_pass(int step);
  void gather_timeline(const RankTimeline::StepRecord& rec);
  void execute(const Action& a, int step);
  void prefault_stream_memory();
  std::int64_t optimizer_state_bytes_of(const LocalStage& s) const;

  // stage_compute.cpp
  MicroBatch batch(int step, int mb) const {
    return c_.async ? data_.get(mb / c_.minibatch_mbs, mb % c_.minibatch_mbs) : data_.get(step, mb);
  }
  // This replica's share of a micro-batch's samples (all of them without
  // replicas, and for asynchronous schedules, which deal whole micro-batches).
  torch::Tensor rows(torch::Tensor t) const;
  torch::Tensor stage_loss(const torch::Tensor& out, int step, int mb) const;
  void forward(LocalStage& s, int mb, int step);
  void recompute(LocalStage& s, int mb, int step);
  void backward(LocalStage& s, int mb);
  torch::Tensor output_grad(LocalStage& s, int mb);
  void input_grad(LocalStage& s, int mb);
  void weight_grad(LocalStage& s, int mb);

  // gradient_sync.cpp
  void step_stage(LocalStage& s, const Action& a, int step);
  void allreduce_grads(LocalStage& s);
  void sum_tied_grads();
  bool overflow_in_step(int step);
  void update_stage(LocalStage& s);

  // rank_checkpoint.cpp
  void save_checkpoint(int step);
  void load_checkpoint(int step);
  void save_stream_checkpoint(int minibatch);
  // Reports this rank's files of checkpoint `step`; rank 0 gathers every
  // rank's and commits the checkpoint (checkpoint/commit.h).
  void commit_files(int step, std::vector<CheckpointFile> files, const WriteHook& at);
  void load_stream_checkpoint(int minibatch, const RankCut& cut);
  void resume_stream(const RankCut& cut);
  RankCut my_cut(int minibatches) const;

  // rank_verify.cpp
  int verify();

  const RunConfig& c_;
  RankIdentity id_;
  ReplicaLayout layout_;  // replicas of every pipeline rank
  int prank_ = 0;         // pipeline rank
  RankTransport net_;
  RankTimeline timeline_;
  StepReport report_;
  BatchSource data_;
  int num_stages_ = 0;
  std::vector<LocalStage> stages_;
  bool tied_done_ = false;
  LossScaler scaler_;
  LossFunction loss_;
  std::optional<bool> overflow_;   // this step's decision, once every rank took part
  int overflow_rank_ = -1;         // the highest rank that found an inf or NaN
  std::map<int, double> mb_loss_;  // last stage: scaled loss of each micro-batch (the stream's, async)
  // Asynchronous replicas: round-robin owner of each action of the list; empty: all mine.
  std::vector<int> owners_;
  std::map<std::size_t, int> done_at_;  // asynchronous: list position -> minibatches finished there
  std::map<std::size_t, int> save_at_;  // asynchronous: list position -> minibatch checkpointed there
  std::size_t begin_ = 0;               // first action of the pass (a resumed stream starts at its cut)
  RankCut resume_cut_;
  std::size_t kill_at_ = FaultInjection::npos;
  // The step's process page faults and other threads' processor time
  // (thread_cpu.h): the sample at its start, then the difference.
  long step_faults_ = 0;
  std::optional<std::map<long, double>> step_other_cpu_;
  std::optional<double> step_other_cpu_ms_;
};

}  // namespace pipekit
