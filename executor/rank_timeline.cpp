#include "executor/rank_timeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "core/formats.h"
#include "core/timeline_meta.h"
#include "executor/memory_meter.h"

namespace pipekit {

namespace {

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

}  // namespace

void RankTimeline::begin_step(bool recording, const torch::Device& device, bool cpu_time) {
  recording_ = recording;
  cpu_time_ = cpu_time && !device.is_cuda();
  device_ = device;
  cuda_ = device.is_cuda();
  events_.clear();
  memory_.clear();
  t0_ = Clock::now();
  base_bytes_ = memory_meter::live_bytes();
  memory_meter::reset_peak();
}

double RankTimeline::start_compute() {
  if (recording_ && cpu_time_) cpu_start_ms_ = thread_cpu_ms();
  return now_ms();
}

void RankTimeline::add_compute(const Action& a, double start, int version,
                               const std::vector<LocalStage>& stages) {
  if (!recording_) return;
  TimelineEvent e;
  e.weight_version = version;
  e.rank = rank_;
  e.stream = Stream::compute;
  e.action = a;
  e.start_ms = start;
  if (cuda_) torch::cuda::synchronize(device_.index());
  e.end_ms = now_ms();
  if (cpu_time_) e.work_ms = std::max(0.0, thread_cpu_ms() - cpu_start_ms_);
  events_.push_back(e);
  sample_memory(stages);
}

void RankTimeline::sample_memory(const std::vector<LocalStage>& stages) {
  if (!recording_) return;
  MemorySample m;
  m.rank = rank_;
  m.time_ms = now_ms();
  for (const auto& s : stages)
    for (const auto& p : s.params) {
      m.weights += tensor_bytes(p);
      m.gradients += tensor_bytes(p.grad());
    }
  m.activations = std::max<std::int64_t>(0, memory_meter::live_bytes() - base_bytes_);
  memory_.push_back(m);
}

void RankTimeline::end_step(double end_ms) {
  spans_.push_back(
      {std::chrono::duration_cast<std::chrono::nanoseconds>(t0_.time_since_epoch()).count(), end_ms});
}

std::int64_t RankTimeline::peak_bytes() const {
  return memory_meter::peak_bytes() - base_bytes_;
}

void RankTimeline::gather(c10d::Store& store, int world_size, const Timeline& frame, const StepRecord& rec,
                          const std::map<std::string, std::string>& run_meta, const std::string& path) {
  Timeline t = frame;
  t.source = "measured";
  t.step_time_ms = spans_.back().end_ms;
  t.events = events_;
  t.memory = memory_;
  set_meta(t, RankMeta::peak_activation_bytes, rank_, std::to_string(rec.peak_activation_bytes));
  // Pages first touched inside the step: memory the run grew into while measured.
  set_meta(t, RankMeta::page_faults, rank_, std::to_string(rec.page_faults));
  set_meta(t, RankMeta::device, rank_, rec.device_key);
  if (rec.other_threads_cpu_ms)
    set_meta(t, RankMeta::other_threads_cpu_ms, rank_, fmt::format("{:.3f}", *rec.other_threads_cpu_ms));
  set_meta(t, RankMeta::step_spans, rank_, format_step_spans(spans_));
  set_meta(t, RankMeta::clock, rank_, format_rank_clock(rec.clock_id, spans_.back().origin_ns));
  if (rank_ != 0) {
    const std::string js = timeline_to_json(t);
    store.set("pipekit/timeline/" + std::to_string(rank_), std::vector<std::uint8_t>(js.begin(), js.end()));
    return;
  }
  std::vector<Timeline> parts;
  parts.push_back(std::move(t));
  for (int r = 1; r < world_size; ++r) {
    auto bytes = store.get("pipekit/timeline/" + std::to_string(r));
    parts.push_back(timeline_from_json(std::string(bytes.begin(), bytes.end()), "rank " + std::to_string(r)));
  }
  Timeline merged = merge_rank_timelines(std::move(parts));
  for (const auto& [k, v] : run_meta) merged.meta[k] = v;
  write_text_file(path, timeline_to_json(merged));
}

}  // namespace pipekit
