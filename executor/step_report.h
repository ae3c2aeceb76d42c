// What the ranks tell the user and the launcher about each step: the step's
// loss (the last stage's ranks compute it, replicas sum their shares, rank 0
// prints), a console line and a --metrics JSON line per step, the summary at
// the end, the progress file the launcher reads to name the last completed
// step of a dead rank, the weight versions an asynchronous stage kept, and
// --predict-memory's table of measured against predicted peaks.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "executor/local_stage.h"
#include "executor/rank_transport.h"
#include "executor/replica_layout.h"
#include "executor/run_config.h"

namespace pipekit {

// What became of a step's update (loss scaling, executor/loss_scaler.h).
struct StepOutcome {
  bool scaled = false;     // loss scaling is on
  double loss_scale = 1;   // the scale the step's losses were multiplied by
  bool skipped = false;    // every rank skipped the update: some gradient overflowed
  int overflow_rank = -1;  // the highest rank that found one
  std::optional<double> next_loss_scale;
};

class StepReport {
 public:
  StepReport(const RunConfig& c, int rank) : c_(c), rank_(rank) {}

  // Rank 0 opens --metrics (throws when it cannot be written).
  void open();

  // Loss per optimizer step (flush: one) or per minibatch of the stream
  // (asynchronous): the mean over the samples, from each micro-batch's scaled loss.
  std::vector<double> step_losses(const std::map<int, double>& mb_loss) const;
  // The last stage's ranks: replicas sum their shares, and the first replica
  // of a rank other than 0 hands them to rank 0 through the store.
  void publish_losses(int step, std::vector<double>& losses, RankTransport& net) const;
  // Rank 0 without the last stage: the losses published for `step`.
  std::vector<double> fetch_losses(int step, RankTransport& net) const;
  // Rank 0: a line (and a metrics record) per step or minibatch; `all_ms`
  // from the step's start until the loss was known.
  void print_step(int step, const std::vector<double>& losses, double all_ms, std::int64_t peak_act,
                  const StepOutcome& outcome = {});
  void print_done() const;

  // The launcher's progress file: `step` steps (minibatches) completed.
  void write_progress(int step) const;
  // Asynchronous: the weight versions each stage kept.
  void print_weights_kept(const std::vector<LocalStage>& stages) const;
  // --predict-memory: every rank's measured peak; rank 0 prints them beside
  // the simulator's prediction.
  void compare_memory(int step, std::int64_t peak_act, const std::vector<LocalStage>& stages,
                      RankTransport& net, const ReplicaLayout& layout) const;

 private:
  const RunConfig& c_;
  int rank_;
  std::ofstream metrics_;
  double total_ms_ = 0;
};

}  // namespace pipekit
