#include "executor/calibration_probes.h"

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/timeline_meta.h"
#include "executor/corun_probe.h"
#include "executor/gpu_transport.h"
#include "executor/launcher.h"
#include "executor/layer_profiler.h"
#include "executor/thread_cpu.h"
#include "simulator/simulator.h"

namespace pipekit {
namespace {

using Clock = std::chrono::steady_clock;

struct LinkCalibration {
  double latency_s = 0, bandwidth_bytes_per_s = 0;
  double small_one_way_s = 0, large_one_way_s = 0;
  std::int64_t large_bytes = 0;
  // Processor time per message of the run's boundary size, both ends and the
  // transport's threads together (process CPU time over a ping-pong).
  double cpu_per_message_s = 0;
  std::int64_t message_bytes = 0;
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Median seconds of `work` over `rounds` timed runs after `warmup` untimed
// ones, the device synchronized around each when `cuda`.
template <class F>
double median_seconds(int warmup, int rounds, bool cuda, F&& work) {
  std::vector<double> t;
  for (int i = 0; i < warmup + rounds; ++i) {
    if (cuda) torch::cuda::synchronize();
    const auto t0 = Clock::now();
    work();
    if (cuda) torch::cuda::synchronize();
    if (i >= warmup) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Bytes per second of a pageable device-to-host copy followed by a
// host-to-device copy of `bytes` (median of 20), what a host-staged message
// costs beyond Gloo.
double measure_host_staging(std::int64_t bytes) {
  torch::Tensor d = torch::ones({bytes / 4}, torch::TensorOptions().device(torch::kCUDA, 0));
  return static_cast<double>(bytes) / median_seconds(3, 20, true, [&] { d.to(torch::kCPU).to(d.device()); });
}

// One end of a two-rank Gloo group over loopback (both ends are threads of
// this process); rank 0 serves the store on `port`.
c10::intrusive_ptr<c10d::ProcessGroupGloo> local_gloo_pair(int port, int rank) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = rank == 0;
  so.numWorkers = 2;
  so.waitWorkers = true;
  so.timeout = std::chrono::milliseconds(30000);
  auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(30000));
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  opts->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, 2, opts);
}

// Runs body(1) on a thread and body(0) here, joins, and rethrows the first
// failure: a Gloo timeout in either end must reach the caller as an error,
// not escape a thread (std::terminate).
void run_pair(const std::function<void(int)>& body) {
  std::exception_ptr failed[2];
  std::thread peer([&] {
    try {
      body(1);
    } catch (...) {
      failed[1] = std::current_exception();
    }
  });
  try {
    body(0);
  } catch (...) {
    failed[0] = std::current_exception();
  }
  peer.join();
  for (auto& f : failed)
    if (f) std::rethrow_exception(f);
}

// Keeps this thread's core busy for `ms` milliseconds (stands in for compute).
void burn_cpu(double ms) {
  const auto until = Clock::now() + std::chrono::duration<double, std::milli>(ms);
  volatile double x = 1.0;
  while (Clock::now() < until)
    for (int i = 0; i < 2000; ++i) x = x * 1.0000001 + 1e-9;
}

// A fixed amount of arithmetic (`iters` rounds): unlike burn_cpu, its time
// grows when other threads take the core, which is what a message's overhead
// does to a rank's compute.
void burn_work(long iters) {
  volatile double x = 1.0;
  for (long i = 0; i < iters; ++i) x = x * 1.0000001 + 1e-9;
}

// burn_work rounds per millisecond on this thread.
double work_per_ms() {
  const long probe = 200000;
  const auto t0 = Clock::now();
  burn_work(probe);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return static_cast<double>(probe) / std::max(1e-6, ms);
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The run's other ranks, as the message probes load the processor with
// them: `threads` threads computing bursts of `burst_ms` for a `duty` share
// of the time (the rest asleep, as a rank waiting for a message is), each
// from its own phase.
struct ProbeLoad {
  int threads = 0;
  double burst_ms = 1;
  double duty = 1;
};

// Threads that compute as ProbeLoad says for a probe's length; each runs
// `on_start` first. They stop at stop() or, however the probe ends, on
// destruction.
class LoadThreads {
 public:
  LoadThreads(const ProbeLoad& load, const std::function<void()>& on_start) {
    const double burst = std::max(0.05, load.burst_ms);
    const double rest_ms = load.duty >= 1 ? 0.0 : burst * (1.0 / std::max(0.01, load.duty) - 1.0);
    for (int i = 0; i < load.threads; ++i)
      threads_.emplace_back([this, on_start, burst, rest_ms, i, n = load.threads] {
        on_start();
        // Staggered phases: ranks of a pipeline are not idle all at once.
        if (rest_ms > 0) pause((burst + rest_ms) * i / n);
        while (!stop_) {
          burn_cpu(burst);
          if (rest_ms > 0) pause(rest_ms);
        }
      });
  }
  ~LoadThreads() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  void pause(double ms) const {
    const auto until = Clock::now() + std::chrono::duration<double, std::milli>(ms);
    while (!stop_ && Clock::now() < until)
      std::this_thread::sleep_for(std::min(std::chrono::duration<double, std::milli>(ms),
                                           std::chrono::duration<double, std::milli>(5.0)));
  }

  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// A message on a loaded processor: two threads play two pipeline ranks, each
// posting its receive, computing `burst_ms`, sending `message_bytes` and
// waiting for the other's message, while `extra_threads` more threads compute
// throughout (the run's other ranks).
struct LoadedMessage {
  // Mean delay: when its receiver has it minus the later of its sending and
  // the receiver starting to wait (the run's own measure).
  double delay_s = 0;
  // Processor time of the transport's threads (those the pair started: not
  // the two playing ranks, the load, or threads this process had before) per
  // message, both ends together.
  double transport_cpu_s = 0;
  std::vector<double> delays_s;  // each message's delay
  // Compute time each message end took from the rank: a burst of fixed work
  // while messages flow, minus the same burst with the same threads and no
  // messages (medians), over the two ends each round has.
  double stolen_per_end_s = 0;
};

LoadedMessage measure_loaded_message(std::int64_t message_bytes, double burst_ms, const ProbeLoad& others,
                                     int rounds) {
  const int port = free_local_port();
  const int kRounds = rounds + 5, kWarmup = 5;
  // Threads alive before the probe (the launcher's, LibTorch's pools, earlier
  // probes') are not the pair's transport: their time is left out.
  std::set<long> before_probe;
  if (auto pre = other_threads_cpu_ns())
    for (const auto& [tid, ns] : *pre) before_probe.insert(tid);
  before_probe.insert(this_thread_id());
  std::vector<double> sent[2], waited[2], got[2], burst[2], quiet[2];
  for (auto* v : {sent, waited, got, burst})
    for (int r = 0; r < 2; ++r) v[r].assign(kRounds, 0);
  const long iters = std::max(1000L, static_cast<long>(burst_ms * work_per_ms()));
  std::mutex tids_mu;
  std::set<long> ours;  // threads that compute: left out of the transport's time
  auto note_tid = [&] {
    std::lock_guard<std::mutex> lock(tids_mu);
    ours.insert(this_thread_id());
  };
  LoadThreads load(others, note_tid);
  const auto t0 = Clock::now();
  auto ms = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
  std::optional<std::map<long, double>> cpu_before, cpu_after;
  auto body = [&](int rank) {
    note_tid();
    auto pg = local_gloo_pair(port, rank);
    std::vector<torch::Tensor> out = {torch::zeros({std::max<std::int64_t>(1, message_bytes / 4)})};
    std::vector<torch::Tensor> in = {torch::zeros_like(out[0])};
    pg->barrier()->wait();
    // The same bursts without messages first: what the work takes with these threads alone.
    for (int i = 0; i < 20; ++i) {
      const double b0 = ms();
      burn_work(iters);
      quiet[rank].push_back(ms() - b0);
    }
    pg->barrier()->wait();
    for (int i = 0; i < kRounds; ++i) {
      if (rank == 0 && i == kWarmup) cpu_before = other_threads_cpu_ns();
      auto rw = pg->recv(in, 1 - rank, 500 + i);
      const double b0 = ms();
      burn_work(iters);
      burst[rank][i] = ms() - b0;
      sent[rank][i] = ms();
      auto sw = pg->send(out, 1 - rank, 500 + i);
      waited[rank][i] = ms();
      rw->wait();
      got[rank][i] = ms();
      sw->wait();
    }
    if (rank == 0) cpu_after = other_threads_cpu_ns();
    pg->barrier()->wait();
  };
  run_pair(body);
  load.stop();
  LoadedMessage out;
  double sum = 0;
  int n = 0;
  for (int r = 0; r < 2; ++r)
    for (int i = kWarmup; i < kRounds; ++i) {
      const double d = std::max(0.0, got[r][i] - std::max(waited[r][i], sent[1 - r][i]));
      out.delays_s.push_back(d / 1e3);
      sum += d;
      ++n;
    }
  out.delay_s = n ? sum / n / 1e3 : 0;
  double stolen = 0;
  for (int r = 0; r < 2; ++r)
    stolen +=
        median_of(std::vector<double>(burst[r].begin() + kWarmup, burst[r].end())) - median_of(quiet[r]);
  out.stolen_per_end_s = std::max(0.0, stolen / 2 / 2 / 1e3);
  if (cpu_before && cpu_after && n) {
    for (const std::set<long>* skip : {&ours, &before_probe})
      for (const auto& tid : *skip) {
        cpu_before->erase(tid);
        cpu_after->erase(tid);
      }
    out.transport_cpu_s = cpu_ms_since(*cpu_before, *cpu_after) / 1e3 / n;
  }
  return out;
}

// A message sent long before its receiver waits for it (the receiver was
// computing): how long the wait still takes. A transport with asynchronous
// progress has the message by then (about 0); Gloo's TCP pair on busy CPU
// ranks hands it over only once the receiver waits. The two threads take
// turns sending at a round's start, both compute `burst_ms`, then the
// receiver times its wait while `extra_threads` more threads compute.
struct LateReceive {
  double mean_s = 0;
  std::vector<double> samples_s;
};

LateReceive measure_late_receive(std::int64_t message_bytes, double burst_ms, const ProbeLoad& others) {
  const int port = free_local_port();
  constexpr int kRounds = 40, kWarmup = 4;
  std::vector<double> late(kRounds + kWarmup, -1);
  const long iters = std::max(1000L, static_cast<long>(burst_ms * work_per_ms()));
  LoadThreads load(others, [] {});
  run_pair([&](int rank) {
    auto pg = local_gloo_pair(port, rank);
    std::vector<torch::Tensor> buf = {torch::zeros({std::max<std::int64_t>(1, message_bytes / 4)})};
    pg->barrier()->wait();
    for (int i = 0; i < kRounds + kWarmup; ++i) {
      if (rank == i % 2) {
        auto sw = pg->send(buf, 1 - rank, 900 + i);
        burn_work(iters);
        sw->wait();
      } else {
        auto rw = pg->recv(buf, 1 - rank, 900 + i);
        burn_work(iters);
        const auto w0 = Clock::now();
        rw->wait();
        late[i] = std::chrono::duration<double>(Clock::now() - w0).count();
      }
    }
    pg->barrier()->wait();
  });
  LateReceive out;
  for (int i = kWarmup; i < kRounds + kWarmup; ++i) out.samples_s.push_back(late[i]);
  double sum = 0;
  for (double v : out.samples_s) sum += v;
  out.mean_s = out.samples_s.empty() ? 0 : sum / static_cast<double>(out.samples_s.size());
  return out;
}

LinkCalibration measure_gloo_link(std::int64_t message_bytes) {
  const int port = free_local_port();
  const std::int64_t large = 1 << 20;
  message_bytes = std::max<std::int64_t>(4, message_bytes);
  // Ping-pongs of a 4-byte, a 1 MiB and the run's message: the first two time
  // the link; over the third, the process's CPU time (both ranks are threads
  // of this process; waits cost nothing) is what both ends spend per message.
  const std::int64_t sizes[3] = {1, large / 4, message_bytes / 4};
  const int rounds[3] = {200, 30, 100};
  double one_way[2] = {0, 0}, fastest[2] = {0, 0}, cpu_s = 0;
  auto body = [&](int rank) {
    auto pg = local_gloo_pair(port, rank);
    for (int k = 0; k < 3; ++k) {
      std::vector<torch::Tensor> buf = {torch::zeros({sizes[k]})};
      std::vector<double> rtt;
      double cpu0 = 0;
      for (int i = 0; i < rounds[k] + 5; ++i) {
        if (i == 5) cpu0 = process_cpu_seconds();
        const auto t0 = Clock::now();
        if (rank == 0) {
          pg->send(buf, 1, 100 + k)->wait();
          pg->recv(buf, 1, 200 + k)->wait();
        } else {
          pg->recv(buf, 0, 100 + k)->wait();
          pg->send(buf, 0, 200 + k)->wait();
        }
        if (i >= 5) rtt.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      if (rank != 0) continue;
      if (k == 2) {
        cpu_s = process_cpu_seconds() - cpu0;
        continue;
      }
      std::sort(rtt.begin(), rtt.end());
      one_way[k] = rtt[rtt.size() / 2] / 2;
      fastest[k] = rtt.front() / 2;
    }
    pg->barrier()->wait();
  };
  run_pair(body);
  LinkCalibration c;
  c.small_one_way_s = one_way[0];
  c.large_one_way_s = one_way[1];
  c.large_bytes = large;
  c.latency_s = one_way[0];
  c.message_bytes = message_bytes;
  c.cpu_per_message_s = cpu_s / (2.0 * rounds[2]);
  // Bandwidth from the fastest rounds: on a loaded machine the medians carry
  // scheduling delays that can swamp the size difference.
  const double extra = std::max(1e-6, fastest[1] - fastest[0]);
  c.bandwidth_bytes_per_s = static_cast<double>(large) / extra;
  return c;
}

// The run's mean compute action (a forward or a backward of a stage): the
// burst the message probes compute between messages, as ranks do.
double mean_action_ms(const StageCosts& base) {
  double ms = 0;
  for (const auto& st : base.stages) ms += (st.forward_ms + st.backward_ms) / 2;
  return ms / static_cast<double>(std::max<std::size_t>(1, base.stages.size()));
}

// The share of a step the ranks compute, averaged over the ranks: the
// schedule simulated over the profile's costs with a device per rank and the
// probed link.
double busy_share(const Schedule& sch, const StageCosts& base, const RunCalibration& cal) {
  SimOptions o;
  o.record_timeline = false;
  const SimulationResult r =
      simulate(sch, base, flat_cluster(sch.num_ranks, cal.link_bandwidth_bytes_per_s, cal.link_latency_s), o);
  if (!(r.metrics.step_time_ms > 0) || r.metrics.ranks.empty()) return 1.0;
  double busy = 0;
  for (const auto& m : r.metrics.ranks) busy += m.busy_ms;
  return std::clamp(busy / static_cast<double>(r.metrics.ranks.size()) / r.metrics.step_time_ms, 0.05, 1.0);
}

// Least squares line through the sweep's (bytes, processor time per end),
// kept non-negative: a negative slope (noise) falls back to the mean, a
// negative intercept to a line through zero.
void fit_end_cpu(RunCalibration& cal) {
  const std::size_t n = cal.sweep_bytes.size();
  if (n < 2) return;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(cal.sweep_bytes[i]), y = cal.sweep_end_cpu_s[i];
    sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  const double den = static_cast<double>(n) * sxx - sx * sx;
  double slope = den > 0 ? (static_cast<double>(n) * sxy - sx * sy) / den : 0;
  double base = (sy - slope * sx) / static_cast<double>(n);
  if (slope < 0) slope = 0, base = sy / static_cast<double>(n);
  if (base < 0) base = 0, slope = sxx > 0 ? sxy / sxx : 0;
  cal.end_cpu_fitted = true;
  cal.end_cpu_base_s = base;
  cal.end_cpu_per_byte_s = slope;
}

// Ranks sharing a processor: those the run recorded on the same device (the
// CPU of one host, or one GPU by its UUID), each group probed on its own GPU:
// the one here with that UUID (a rank's own index may differ under a per-rank
// CUDA_VISIBLE_DEVICES), else the index the rank saw. Timelines without
// devices keep the old rule: the CPU, or one GPU when there are fewer GPUs
// than ranks, is shared by all.
struct DeviceGroups {
  std::vector<std::vector<int>> ranks;
  std::vector<int> gpu;
};

DeviceGroups device_groups(const RunConfig& c, const Timeline& measured, int ranks, int gpus) {
  std::map<std::string, int> local;
  for (int i = 0; i < gpus; ++i) local[cuda_device_identity(i)] = i;
  DeviceGroups out;
  std::map<std::string, int> by_device;
  for (int r = 0; r < ranks; ++r) {
    const std::optional<std::string> rec = get_meta(measured, RankMeta::device, r);
    DeviceId d = parse_device_id(rec.value_or(std::string()));
    if (!rec && c.device == "cuda")
      d = DeviceId{gpus < ranks ? 0 : r, fmt::format("cuda:{}", gpus < ranks ? 0 : r), ""};
    auto [g, fresh] = by_device.emplace(d.key(), static_cast<int>(out.ranks.size()));
    if (fresh) {
      out.ranks.emplace_back();
      out.gpu.push_back(local.count(d.identity) ? local[d.identity] : d.index);
    }
    out.ranks[g->second].push_back(r);
  }
  return out;
}

// The co-run probe of every group of ranks sharing one processor.
void probe_sharing(const RunConfig& c, const Timeline& measured, int mb_rows, const ProbeOptions& o,
                   RunCalibration& cal) {
  const Schedule& sch = c.schedule;
  const int gpus = c.device == "cuda" ? static_cast<int>(torch::cuda::device_count()) : 0;
  const DeviceGroups groups = device_groups(c, measured, sch.num_ranks, gpus);
  for (std::size_t gi = 0; gi < groups.ranks.size(); ++gi) {
    if (groups.ranks[gi].size() < 2) continue;
    CorunOptions co;
    co.model = c.model;
    co.gpu = std::max(0, groups.gpu[gi]);
    co.worker_layers.assign(groups.ranks[gi].size(), {});
    for (std::size_t w = 0; w < groups.ranks[gi].size(); ++w)
      for (int s = 0; s < sch.num_stages; ++s)
        if (sch.stage_to_rank[s] == groups.ranks[gi][w])
          for (int l : c.stage_layers[s]) co.worker_layers[w].push_back(l);
    co.microbatch = mb_rows;
    co.seq = c.seq;
    co.device = c.device;
    co.threads = c.threads;
    co.seed = c.seed;
    co.precision = c.precision;
    co.window_s = o.corun_window_s;
    // Twice: the forward/backward loop gives the compute capacity, the
    // optimizer-step loop the capacity of memory-bound step-level actions.
    CorunResult probed, probed_step;
    if (o.capacity > 0) {
      probed.capacity = probed_step.capacity = o.capacity;
    } else {
      if (!c.quiet)
        fmt::print("co-run probe: {} workers, {:.1f} s windows, compute then optimizer steps ...\n",
                   groups.ranks[gi].size(), co.window_s);
      std::fflush(stdout);
      probed = measure_corun(co);
      co.work = "step";
      co.optimizer = c.optimizer;
      probed_step = measure_corun(co);
    }
    if (cal.shared.empty()) {
      cal.corun_alone_per_s = probed.alone_per_s;
      cal.corun_together_per_s = probed.together_per_s;
      cal.corun_step_alone_per_s = probed_step.alone_per_s;
      cal.corun_step_together_per_s = probed_step.together_per_s;
    }
    cal.shared.push_back(SharedDevice{groups.ranks[gi], probed.capacity, probed_step.capacity});
    cal.compute_noise.insert(cal.compute_noise.end(), probed.together_noise.begin(),
                             probed.together_noise.end());
    for (std::size_t w = 0; w < probed.alone_series.size(); ++w)
      if (!probed.alone_series[w].empty()) {
        cal.speed_series.push_back(probed.alone_series[w]);
        cal.speed_sample_ms.push_back(probed.alone_sample_s[w] * 1e3);
      }
  }
}

// The transport the run recorded; timelines without it get the runtime's
// choice for the old placement rule (one GPU shared by all when there are
// fewer GPUs than ranks, else one GPU each).
Transport run_transport(const RunConfig& c, const Timeline& measured, int ranks) {
  if (auto t = get_meta(measured, RunMeta::transport)) {
    for (Transport k : {Transport::gloo, Transport::gloo_host_staged, Transport::nccl})
      if (*t == to_string(k)) return k;
    return Transport::gloo;
  }
  if (c.device != "cuda") return Transport::gloo;
  const int gpus = static_cast<int>(torch::cuda::device_count());
  std::vector<int> rank_gpu(ranks);
  for (int r = 0; r < ranks; ++r) rank_gpu[r] = gpus < ranks ? 0 : r;
  return choose_transport(rank_gpu);
}

}  // namespace

RunCalibration calibrate_run(const RunConfig& c, const StageCosts& base, const Timeline& measured,
                             const ProbeOptions& o) {
  const Schedule& sch = c.schedule;
  const int ranks = sch.num_ranks;
  const int mb_rows = c.batch / std::max(1, c.async ? c.minibatch_mbs : sch.num_microbatches);
  RunCalibration cal;
  cal.cpu = c.device == "cpu";
  // Optimizer step of the largest stage, and the transient bytes of each rank's steps.
  for (int s = 0; s < sch.num_stages; ++s)
    if (base.stages[s].param_bytes > base.stages[cal.largest_stage].param_bytes) cal.largest_stage = s;
  const OptimizerStepCost step = measure_optimizer_step(c.model, c.stage_layers[cal.largest_stage],
                                                        c.optimizer, 5, c.seed, c.device, c.precision);
  cal.optimizer_step_ms = step.ms;
  cal.step_transient_bytes.assign(ranks, 0);
  for (int s = 0; s < sch.num_stages; ++s) {
    const OptimizerStepCost sc = s == cal.largest_stage
                                     ? step
                                     : measure_optimizer_step(c.model, c.stage_layers[s], c.optimizer, 1,
                                                              c.seed, c.device, c.precision);
    auto& v = cal.step_transient_bytes[sch.stage_to_rank[s]];
    v = std::max(v, sc.transient_bytes);
  }
  // Links, and the processor time a message costs at the run's boundary size.
  std::int64_t boundary_bytes = 4;
  for (int s = 0; s + 1 < sch.num_stages; ++s)
    if (sch.stage_to_rank[s] != sch.stage_to_rank[s + 1])
      boundary_bytes = std::max(boundary_bytes, base.stages[s].output_bytes);
  const LinkCalibration link = measure_gloo_link(boundary_bytes);
  cal.link_latency_s = link.latency_s;
  cal.link_bandwidth_bytes_per_s = link.bandwidth_bytes_per_s;
  cal.message_bytes = link.message_bytes;
  cal.message_cpu_s = link.cpu_per_message_s;
  const Transport transport = run_transport(c, measured, ranks);
  cal.nccl = transport == Transport::nccl;
  // CUDA ranks that share a GPU send through host memory: a device-to-host
  // copy before the Gloo send and a host-to-device copy after the receive,
  // both on the ranks' own threads. Their time joins the link's.
  if (ranks > 1 && transport == Transport::gloo_host_staged) {
    cal.host_staging_bytes_per_s = measure_host_staging(std::max<std::int64_t>(1 << 20, boundary_bytes));
    cal.link_bandwidth_bytes_per_s =
        1.0 / (1.0 / cal.link_bandwidth_bytes_per_s + 1.0 / cal.host_staging_bytes_per_s);
  }
  // Weight stashing copies a stage's weights whenever consecutive actions use different versions.
  if (c.async)
    cal.weight_copy_bytes_per_s =
        measure_weight_copy_rate(base.stages[cal.largest_stage].param_bytes, c.device);
  probe_sharing(c, measured, mb_rows, o, cal);
  // Ranks sharing this CPU wait longer for a message than an idle ping-pong
  // says: the threads that move it and the one waiting for it must get a core
  // from the ranks' compute. Probe that with the run's message size and a
  // compute burst of its mean action.
  // The probes' stand-ins for the run's other ranks compute the mean action
  // at the share of the time those ranks compute (the schedule simulated over
  // the profile's costs, a device per rank), not throughout: a pipeline's
  // ranks wait for messages much of the step, and a load that never rests
  // makes every message wait for a time slice.
  const double action_ms = mean_action_ms(base);
  ProbeLoad others;
  others.threads = cal.shared.empty() ? 0 : std::max(0, ranks - 2);
  others.burst_ms = std::max(0.2, action_ms);
  others.duty = busy_share(sch, base, cal);
  cal.load_duty = others.duty;
  if (!cal.shared.empty() && cal.cpu) {
    // A size sweep around the run's message (a sixteenth, itself, four
    // times): the processor time per message end as a line in its bytes, so
    // each message is charged for its own size; the run's size gives the
    // delay and its samples.
    const std::int64_t sizes[3] = {std::max<std::int64_t>(64, boundary_bytes / 16), boundary_bytes,
                                   std::min<std::int64_t>(64LL << 20, 4 * boundary_bytes)};
    for (std::int64_t bytes : sizes) {
      const LoadedMessage lm =
          measure_loaded_message(bytes, action_ms, others, bytes == boundary_bytes ? 60 : 30);
      cal.sweep_bytes.push_back(bytes);
      cal.sweep_end_cpu_s.push_back(lm.stolen_per_end_s);
      cal.sweep_transport_cpu_s.push_back(lm.transport_cpu_s / 2);
      cal.sweep_delay_s.push_back(lm.delay_s);
      if (bytes != boundary_bytes) continue;
      cal.loaded_delay_s = lm.delay_s;
      cal.loaded_transport_cpu_s = lm.transport_cpu_s;
      cal.delay_samples_s = lm.delays_s;
    }
    fit_end_cpu(cal);
  }
  // Gloo on CPU ranks: does a message sent early wait for its receiver?
  if (cal.cpu && !cal.nccl && ranks > 1) {
    const LateReceive lr = measure_late_receive(boundary_bytes, std::max(0.2, action_ms), others);
    cal.receive_wait_s = lr.mean_s;
    cal.receive_wait_samples_s = lr.samples_s;
  }
  return cal;
}

}  // namespace pipekit
