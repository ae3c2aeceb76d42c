// One rank's measured timeline: the step's clock, its compute and message
// events and memory samples (only in the recorded step), and what the rank
// records in the timeline's meta (core/timeline_meta.h). gather() sends every
// rank's part to rank 0 through the store, which merges them onto one clock
// (core/timeline_merge.h) and writes the file.
//
// Compute events end after a device synchronize on CUDA, so they hold GPU
// time, not launch time. Activation bytes are the memory meter's live bytes
// minus those live at the step's start.
#pragma once

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/timeline.h"
#include "core/timeline_merge.h"
#include "executor/local_stage.h"

namespace pipekit {

class RankTimeline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RankTimeline(int rank) : rank_(rank) {}

  // Starts a step's clock; events and samples are kept only when `recording`.
  // `device` is the rank's compute device (synchronized before a compute event ends).
  // `cpu_time`: compute runs on the calling thread alone (the CPU with one
  // compute thread), so each compute event also records that thread's
  // processor time; with more threads or a GPU it would not be the work's.
  void begin_step(bool recording, const torch::Device& device, bool cpu_time);
  double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count(); }
  Clock::time_point origin() const { return t0_; }
  bool recording() const { return recording_; }

  void add(const TimelineEvent& e) {
    if (recording_) events_.push_back(e);
  }
  // The start of a compute action: the step clock's now, and the thread's
  // processor time kept for the add_compute that ends it (actions do not nest).
  double start_compute();
  // A compute action that started at `start` and ends now; samples memory after it.
  void add_compute(const Action& a, double start, int version, const std::vector<LocalStage>& stages);
  void sample_memory(const std::vector<LocalStage>& stages);
  // Ends the step at `end_ms`: its span joins the run's spans.
  void end_step(double end_ms);
  // The step's peak bytes above those live at its start.
  std::int64_t peak_bytes() const;

  // What the rank records about the step in the meta.
  struct StepRecord {
    std::int64_t peak_activation_bytes = 0;
    long page_faults = 0;
    std::optional<double> other_threads_cpu_ms;
    std::string device_key, clock_id;
  };
  // Every rank calls it; rank 0 merges the parts and writes `path`.
  // `run_meta` (rank 0's) joins the merged meta.
  void gather(c10d::Store& store, int world_size, const Timeline& frame, const StepRecord& rec,
              const std::map<std::string, std::string>& run_meta, const std::string& path);

 private:
  int rank_;
  bool recording_ = false;
  bool cuda_ = false;
  bool cpu_time_ = false;
  double cpu_start_ms_ = 0;
  torch::Device device_{torch::kCPU};
  Clock::time_point t0_;
  std::int64_t base_bytes_ = 0;
  std::vector<TimelineEvent> events_;
  std::vector<MemorySample> memory_;
  std::vector<RankStepSpan> spans_;  // every step of this run: origin and end
};

}  // namespace pipekit
