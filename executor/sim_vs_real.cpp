#include "executor/sim_vs_real.h"

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "core/error.h"
#include "core/formats.h"
#include "core/timeline_merge.h"
#include "core/units.h"
#include "executor/corun_probe.h"
#include "executor/gpu_transport.h"
#include "executor/launcher.h"
#include "executor/layer_profiler.h"
#include "executor/thread_cpu.h"
#include "simulator/shared_device.h"
#include "simulator/simulator.h"
#include "viz/viz_outputs.h"

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

// Bytes per second of copying `bytes` of weights on `device` (median of 7):
// what weight stashing pays to load another version into the layers.
double measure_copy_bandwidth(std::int64_t bytes, const std::string& device) {
  const bool cuda = device == "cuda";
  const auto opts = torch::TensorOptions().device(cuda ? torch::Device(torch::kCUDA, 0) : torch::kCPU);
  const std::int64_t n = std::max<std::int64_t>(1 << 18, std::min<std::int64_t>(bytes, 256LL << 20) / 4);
  torch::Tensor src = torch::ones({n}, opts), dst = torch::empty({n}, opts);
  return static_cast<double>(n * 4) / median_seconds(2, 7, cuda, [&] { dst.copy_(src); });
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

// A message on a loaded processor: two threads play two pipeline ranks, each
// posting its receive, computing `burst_ms`, sending `message_bytes` and
// waiting for the other's message, while `extra_threads` more threads compute
// throughout (the run's other ranks).
struct LoadedMessage {
  // Mean delay: when its receiver has it minus the later of its sending and
  // the receiver starting to wait (the run's own measure).
  double delay_s = 0;
  // Processor time of the transport's threads (every thread but the two
  // playing ranks and the load) per message.
  double transport_cpu_s = 0;
};

LoadedMessage measure_loaded_message(std::int64_t message_bytes, double burst_ms, int extra_threads) {
  const int port = free_local_port();
  constexpr int kRounds = 60, kWarmup = 5;
  std::vector<double> sent[2], waited[2], got[2];
  for (auto* v : {sent, waited, got})
    for (int r = 0; r < 2; ++r) v[r].assign(kRounds, 0);
  std::atomic<bool> stop{false};
  std::mutex tids_mu;
  std::set<long> ours;  // threads that compute: left out of the transport's time
  auto note_tid = [&] {
    std::lock_guard<std::mutex> lock(tids_mu);
    ours.insert(this_thread_id());
  };
  std::vector<std::thread> load;
  for (int i = 0; i < extra_threads; ++i)
    load.emplace_back([&] {
      note_tid();
      while (!stop) burn_cpu(1.0);
    });
  const auto t0 = Clock::now();
  auto ms = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
  std::optional<std::map<long, double>> cpu_before, cpu_after;
  auto body = [&](int rank) {
    note_tid();
    auto pg = local_gloo_pair(port, rank);
    std::vector<torch::Tensor> out = {torch::zeros({std::max<std::int64_t>(1, message_bytes / 4)})};
    std::vector<torch::Tensor> in = {torch::zeros_like(out[0])};
    pg->barrier()->wait();
    for (int i = 0; i < kRounds; ++i) {
      if (rank == 0 && i == kWarmup) cpu_before = other_threads_cpu_ns();
      auto rw = pg->recv(in, 1 - rank, 500 + i);
      burn_cpu(burst_ms);
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
  struct StopLoad {  // the load threads end however the pair ends
    std::atomic<bool>& stop;
    std::vector<std::thread>& load;
    ~StopLoad() {
      stop = true;
      for (auto& t : load) t.join();
    }
  };
  {
    StopLoad guard{stop, load};
    run_pair(body);
  }
  LoadedMessage out;
  double sum = 0;
  int n = 0;
  for (int r = 0; r < 2; ++r)
    for (int i = kWarmup; i < kRounds; ++i) {
      sum += std::max(0.0, got[r][i] - std::max(waited[r][i], sent[1 - r][i]));
      ++n;
    }
  out.delay_s = n ? sum / n / 1e3 : 0;
  if (cpu_before && cpu_after && n) {
    for (const auto& tid : ours) {
      cpu_before->erase(tid);
      cpu_after->erase(tid);
    }
    out.transport_cpu_s = cpu_ms_since(*cpu_before, *cpu_after) / 1e3 / n;
  }
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

double rel_error(double predicted, double measured) {
  if (measured == 0) return predicted == 0 ? 0 : std::numeric_limits<double>::infinity();
  return (predicted - measured) / measured;
}

// A number the run recorded in the timeline's meta: -1 where the key is
// missing; an InputError naming the key where the value is not a finite
// non-negative number.
double meta_number(const Timeline& t, const std::string& key) {
  auto it = t.meta.find(key);
  if (it == t.meta.end()) return -1;
  const std::optional<double> v = parse_number(it->second);
  if (!v)
    throw InputError(
        "timeline", "$.meta." + key,
        fmt::format("\"{}\" is not a count the run records; write the timeline with this pipekit",
                    it->second));
  return *v;
}

std::int64_t meta_int(const Timeline& t, const std::string& key) {
  return static_cast<std::int64_t>(meta_number(t, key));
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a;
  f >> a;
  return a.empty() ? "unknown" : a;
}

StageCosts stretched(const StageCosts& base, double s) {
  StageCosts c = base;
  for (auto& st : c.stages) {
    if (st.step_ms >= 0) st.step_ms *= s;
    st.forward_ms *= s;
    st.backward_ms *= s;
    st.input_grad_ms *= s;
    st.weight_grad_ms *= s;
    st.recompute_ms *= s;
  }
  return c;
}

// Peak activation bytes of each rank as the executor holds them, following
// the rank's action list in order (memory depends only on that order): a
// receive buffer exists from its RECV's posting (the lowered schedules post
// receives early) until the F/B that uses it ends; an F keeps the stage's saved
// bytes (only its input when the stage recomputes, the rest from R) until its
// B; F and B add the stage's workspace while they run; STEP adds the
// optimizer's transient bytes. A sent tensor stays referenced by its pending
// send until the end of the step (the runtime waits for all sends then), so
// an output sent forward outlives its B and a sent input gradient stays too.
std::vector<std::int64_t> executor_order_peaks(const Schedule& sch, const StageCosts& costs,
                                               const std::vector<std::int64_t>& step_transient) {
  std::vector<std::int64_t> peaks(sch.num_ranks, 0);
  for (int r = 0; r < sch.num_ranks; ++r) {
    std::vector<char> recomputes(sch.num_stages, 0);
    for (const Action& a : sch.actions[r])
      if (a.type == ActionType::R) recomputes[a.stage] = 1;
    auto remote = [&](int stage) {
      return stage >= 0 && stage < sch.num_stages && sch.stage_to_rank[stage] != r;
    };
    std::int64_t cur = 0, peak = 0;
    std::set<std::pair<int, int>> sent_forward;  // (stage, mb) whose output a send holds
    for (const Action& a : sch.actions[r]) {
      const StageCost& c = costs.stages[a.stage];
      const std::int64_t buf_in = remote(a.stage - 1) ? c.input_bytes : 0;  // saved_bytes includes it
      const std::int64_t own = c.saved_bytes - buf_in;
      const std::int64_t grad_buf = remote(a.stage + 1) ? c.output_bytes : 0;
      switch (a.type) {
        case ActionType::RECV_F:
          if (remote(a.stage - 1)) cur += c.input_bytes;
          break;
        case ActionType::RECV_B:
          if (remote(a.stage + 1)) cur += c.output_bytes;
          break;
        case ActionType::F:
          if (!recomputes[a.stage]) cur += own;
          peak = std::max(peak, cur + c.workspace_bytes);
          break;
        case ActionType::R:
          cur += own;
          peak = std::max(peak, cur + c.workspace_bytes);
          break;
        case ActionType::I:  // input gradient: the graph and the output gradient stay for W
          peak = std::max(peak, cur + c.workspace_bytes);
          break;
        case ActionType::B:
        case ActionType::W:  // the last backward of a micro-batch frees what its forward kept
          peak = std::max(peak, cur + c.workspace_bytes);
          cur -= own + buf_in + grad_buf;
          if (sent_forward.count({a.stage, a.microbatch})) cur += c.output_bytes;
          break;
        case ActionType::SEND_F:
          if (remote(a.stage + 1)) sent_forward.insert({a.stage, a.microbatch});
          break;
        case ActionType::SEND_B:
          if (remote(a.stage - 1)) cur += c.input_bytes;
          break;
        case ActionType::STEP:
          peak = std::max(peak, cur + step_transient[r]);
          break;
        default:
          break;
      }
      peak = std::max(peak, cur);
    }
    peaks[r] = peak;
  }
  return peaks;
}

}  // namespace

std::string predicted_timeline_path(const std::string& out) {
  return out + ".predicted-timeline.json";
}

std::string compare_timeline_path(const std::string& out) {
  return out + ".measured-timeline.json";
}

void check_compare_options(const RunConfig& c, const CompareOptions& o) {
  if (o.out.empty()) throw InputError("--compare", "", "give the JSON file to write the comparison to");
  if (c.replicated())
    throw InputError("--replicas", "",
                     "--compare predicts straight pipelines only (one replica per stage); drop "
                     "--replicas or compare without it");
  if (!c.async && c.steps - c.start_step < 2)
    throw InputError("--steps", "",
                     fmt::format("--compare needs this run to make at least 2 steps (it makes {}): the "
                                 "first includes warm-up (lazy optimizer state, allocator growth), so the "
                                 "measured step is the median of the steps after it",
                                 c.steps - c.start_step));
  if (!o.profile_path.empty()) {
    Profile p = profile_from_json(read_text_file(o.profile_path), o.profile_path);
    if (static_cast<int>(p.layers.size()) != c.model.num_layers())
      throw InputError(
          o.profile_path, "$.layers",
          fmt::format("the profile has {} layers but {} has {}; profile this model with pipekit profile",
                      p.layers.size(), c.model.name, c.model.num_layers()));
  }
}

int compare_with_simulation(const RunConfig& c, const CompareOptions& o) {
  const Schedule& sch = c.schedule;
  const int ranks = sch.num_ranks;
  // Asynchronous schedules run `steps` minibatches in one stream.
  const int mb_rows = c.batch / std::max(1, c.async ? c.minibatch_mbs : sch.num_microbatches);
  Timeline measured = timeline_from_json(read_text_file(c.timeline_path), c.timeline_path);

  // 1. The profile: given, or measured now under the run's settings.
  Profile prof;
  if (!o.profile_path.empty()) {
    prof = profile_from_json(read_text_file(o.profile_path), o.profile_path);
  } else {
    ProfilerOptions po;
    po.model = c.model;
    po.microbatch = mb_rows;
    po.seq = c.seq;
    po.threads = c.threads;
    po.repeat = o.repeat;
    po.seed = c.seed;
    po.progress = !c.quiet;
    po.device = c.device;
    po.cpu_time = c.device == "cpu";
    prof = profile_model(po);
  }
  // 2. Stage costs of the run's exact split; the runtime keeps a received
  // stage input until the stage's backward, so it counts as saved memory there.
  StageCosts base = stage_costs_from_layers(prof, c.stage_layers, mb_rows);
  for (int s = 1; s < sch.num_stages; ++s)
    if (sch.stage_to_rank[s] != sch.stage_to_rank[s - 1])
      base.stages[s].saved_bytes += base.stages[s].input_bytes;
  // 3. Optimizer step of the largest stage, and the transient bytes of each rank's steps.
  int largest = 0;
  for (int s = 0; s < sch.num_stages; ++s)
    if (base.stages[s].param_bytes > base.stages[largest].param_bytes) largest = s;
  OptimizerStepCost step =
      measure_optimizer_step(c.model, c.stage_layers[largest], c.optimizer, 5, c.seed, c.device);
  std::vector<std::int64_t> step_transient(ranks, 0);
  for (int s = 0; s < sch.num_stages; ++s) {
    OptimizerStepCost sc =
        s == largest ? step
                     : measure_optimizer_step(c.model, c.stage_layers[s], c.optimizer, 1, c.seed, c.device);
    auto& v = step_transient[sch.stage_to_rank[s]];
    v = std::max(v, sc.transient_bytes);
  }
  // 4. Links, and the processor time a message costs at the run's boundary size.
  std::int64_t boundary_bytes = 4;
  for (int s = 0; s + 1 < sch.num_stages; ++s)
    if (sch.stage_to_rank[s] != sch.stage_to_rank[s + 1])
      boundary_bytes = std::max(boundary_bytes, base.stages[s].output_bytes);
  LinkCalibration link = measure_gloo_link(boundary_bytes);
  // CUDA ranks that share a GPU send through host memory: a device-to-host
  // copy before the Gloo send and a host-to-device copy after the receive,
  // both on the ranks' own threads. Their time joins the link's.
  // The transport is the one the run recorded; timelines without it (older
  // files) get the runtime's choice for the old placement rule: one GPU
  // shared by all when there are fewer GPUs than ranks, else one GPU each.
  const int gpus = c.device == "cuda" ? static_cast<int>(torch::cuda::device_count()) : 0;
  auto old_rule_gpu = [&](int r) { return gpus < ranks ? 0 : r; };
  Transport run_transport = Transport::gloo;
  if (auto t = measured.meta.find("transport"); t != measured.meta.end()) {
    for (Transport k : {Transport::gloo, Transport::gloo_host_staged, Transport::nccl})
      if (t->second == to_string(k)) run_transport = k;
  } else if (c.device == "cuda") {
    std::vector<int> rank_gpu(ranks);
    for (int r = 0; r < ranks; ++r) rank_gpu[r] = old_rule_gpu(r);
    run_transport = choose_transport(rank_gpu);
  }
  double staging_bytes_per_s = 0;
  const bool staged = ranks > 1 && run_transport == Transport::gloo_host_staged;
  if (staged) {
    staging_bytes_per_s = measure_host_staging(std::max<std::int64_t>(1 << 20, boundary_bytes));
    link.bandwidth_bytes_per_s = 1.0 / (1.0 / link.bandwidth_bytes_per_s + 1.0 / staging_bytes_per_s);
  }
  Cluster cluster = flat_cluster(ranks, link.bandwidth_bytes_per_s, link.latency_s);
  // 5. Simulate. The ranks of this run share this machine's processor (its
  // cores, or one GPU when there are fewer GPUs than ranks): measure how much
  // compute they get together (co-run probe) and simulate them as one shared
  // device with that capacity (simulator/shared_device.h).
  const int cores = logical_cores();
  double wall_over_cpu = 1;
  if (auto it = prof.meta.find("wall_over_cpu"); it != prof.meta.end()) wall_over_cpu = std::stod(it->second);
  SimOptions so;
  so.microbatch_size = mb_rows;
  Optimizer opt = Optimizer::adam;
  optimizer_from_string(c.optimizer, opt);
  so.optimizer = opt;
  so.step_ms = step.ms;
  // Gloo messages cost both ends processor time (posting, the transport's
  // threads copying and waking the rank): half of the measured per-message
  // time at each end. NCCL's copies run on the GPUs.
  if (run_transport != Transport::nccl) so.message_overhead_ms = link.cpu_per_message_s * 1e3 / 2;
  // Weight stashing copies a stage's weights whenever consecutive actions use
  // different versions.
  // Each asynchronous STEP also moves the gradients to the master weights,
  // zeroes them and clones the new version: three passes over the weights.
  if (c.async)
    so.weight_copy_bytes_per_s = measure_copy_bandwidth(base.stages[largest].param_bytes, c.device);
  // Each stage's step: the optimizer's and the copies' passes over the
  // weights are memory-bound, so the largest stage's measured step scales
  // with the stage's weight bytes. (One cost for every stage over-predicted
  // the smaller stages' steps of gpt2-small pipedream on 4 ranks by up to 2x.)
  for (auto& st : base.stages) {
    const double share =
        base.stages[largest].param_bytes > 0
            ? static_cast<double>(st.param_bytes) / static_cast<double>(base.stages[largest].param_bytes)
            : 1.0;
    st.step_ms = step.ms * share;
    if (c.async) st.step_ms += 3.0 * static_cast<double>(st.param_bytes) / so.weight_copy_bytes_per_s * 1e3;
  }
  so.step_ms = base.stages[largest].step_ms;  // unused (every stage has its own); kept consistent
  const double idle_overhead_ms = so.message_overhead_ms;
  // Ranks sharing a processor: those the run recorded on the same device
  // (the CPU of one host, or one GPU by its UUID), each group probed on its
  // own GPU: the one here with that UUID (a rank's own index may differ under
  // a per-rank CUDA_VISIBLE_DEVICES), else the index the rank saw. Timelines
  // without devices (older files) keep the old rule: the CPU, or one GPU when
  // there are fewer GPUs than ranks, is shared by all.
  std::map<std::string, int> local;
  for (int i = 0; i < gpus; ++i) local[cuda_device_identity(i)] = i;
  std::vector<std::vector<int>> groups;
  std::vector<int> group_gpu;
  std::map<std::string, int> by_device;
  for (int r = 0; r < ranks; ++r) {
    auto it = measured.meta.find("device.rank" + std::to_string(r));
    DeviceId d = parse_device_id(it != measured.meta.end() ? it->second : std::string());
    if (it == measured.meta.end() && c.device == "cuda")
      d = DeviceId{old_rule_gpu(r), fmt::format("cuda:{}", old_rule_gpu(r)), ""};
    auto [g, fresh] = by_device.emplace(d.key(), static_cast<int>(groups.size()));
    if (fresh) {
      groups.emplace_back();
      group_gpu.push_back(local.count(d.identity) ? local[d.identity] : d.index);
    }
    groups[g->second].push_back(r);
  }
  const bool shared = std::any_of(groups.begin(), groups.end(), [](const auto& g) { return g.size() > 1; });
  std::vector<SharedDevice> devices;
  CorunResult corun, corun_step;  // of the first shared group (reported)
  corun.capacity = corun_step.capacity = ranks;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    if (groups[gi].size() < 2) continue;
    CorunOptions co;
    co.model = c.model;
    co.gpu = std::max(0, group_gpu[gi]);
    co.worker_layers.assign(groups[gi].size(), {});
    for (std::size_t w = 0; w < groups[gi].size(); ++w)
      for (int s = 0; s < sch.num_stages; ++s)
        if (sch.stage_to_rank[s] == groups[gi][w])
          for (int l : c.stage_layers[s]) co.worker_layers[w].push_back(l);
    co.microbatch = mb_rows;
    co.seq = c.seq;
    co.device = c.device;
    co.threads = c.threads;
    co.seed = c.seed;
    co.window_s = o.corun_window_s;
    // Twice: the forward/backward loop gives the compute capacity, the
    // optimizer-step loop the capacity of memory-bound step-level actions.
    CorunResult probed, probed_step;
    if (o.capacity > 0) {
      probed.capacity = probed_step.capacity = o.capacity;
    } else {
      if (!c.quiet)
        fmt::print("co-run probe: {} workers, {:.1f} s windows, compute then optimizer steps ...\n",
                   groups[gi].size(), co.window_s);
      std::fflush(stdout);
      probed = measure_corun(co);
      co.work = "step";
      co.optimizer = c.optimizer;
      probed_step = measure_corun(co);
    }
    if (devices.empty()) {
      corun = probed;
      corun_step = probed_step;
    }
    devices.push_back(SharedDevice{groups[gi], probed.capacity, probed_step.capacity});
  }
  // Ranks sharing this CPU wait longer for a message than an idle ping-pong
  // says: the threads that move it and the one waiting for it must get a core
  // from the ranks' compute. Probe that with the run's message size and a
  // compute burst of its mean action, and use the mean delay as the latency.
  double loaded_delay_s = 0, loaded_transport_cpu_s = 0;
  if (shared && c.device == "cpu") {
    double action_ms = 0;
    for (const auto& st : base.stages) action_ms += (st.forward_ms + st.backward_ms) / 2;
    action_ms /= std::max<std::size_t>(1, base.stages.size());
    const LoadedMessage lm = measure_loaded_message(boundary_bytes, action_ms, std::max(0, ranks - 2));
    loaded_delay_s = lm.delay_s;
    loaded_transport_cpu_s = lm.transport_cpu_s;
    // The transport's processor time per message under that load is the
    // overhead to charge: an idle ping-pong never sees Gloo's transport
    // threads spin on a lock whose holder they preempted (executor/README.md),
    // which on two shared cores cost 0.6-2.1 ms per message in gpt-tiny
    // probes. The probe's two threads post at the same instants every round,
    // as balanced ranks do, so this is the cost where posts coincide: an
    // upper end for schedules whose ranks post at different times.
    so.message_overhead_ms = std::max(so.message_overhead_ms, lm.transport_cpu_s * 1e3 / 2);
    cluster = flat_cluster(ranks, link.bandwidth_bytes_per_s, std::max(link.latency_s, loaded_delay_s));
  }
  SharedSimulation sh = simulate_shared(sch, base, cluster, so, devices);
  SimulationResult res = sh.result;
  // A device per rank: no sharing, and messages cost what they cost on an
  // idle processor (no loaded delay, no transport threads fighting compute).
  double dedicated_ms = sh.dedicated_step_ms;
  if (shared && c.device == "cpu") {
    SimOptions alone = so;
    alone.record_timeline = false;
    alone.message_overhead_ms = idle_overhead_ms;
    dedicated_ms = simulate(sch, base, flat_cluster(ranks, link.bandwidth_bytes_per_s, link.latency_s), alone)
                       .metrics.step_time_ms;
  }
  // The same model with the stretch the run really saw (its measured compute
  // time over the profile's), which separates the schedule and communication
  // model from the machine's varying load: it is calibrated on the run itself.
  // The run's compute events include what messaging took from them, so the
  // stretch is measured and applied without the per-message overhead.
  SimOptions calibrated = so;
  calibrated.record_timeline = false;
  calibrated.message_overhead_ms = 0;
  double base_busy = 0, run_busy = 0;
  for (const auto& r : simulate(sch, base, cluster, calibrated).metrics.ranks) base_busy += r.busy_ms;
  for (const auto& e : measured.events)
    if (e.stream == Stream::compute) run_busy += e.end_ms - e.start_ms;
  const double seen_stretch = base_busy > 0 ? run_busy / base_busy : 1;
  // ... and the message delivery delay it saw: a receive's end (when the rank
  // had it in hand) minus the latest of the matching send's posting, the
  // receive's posting and the end of the rank's compute before it (receives are
  // posted ahead, so a message that arrived while the rank computed cost no
  // wait), mean over the step's messages.
  std::map<std::tuple<int, int, int>, double> send_posted;  // (stage, mb, type)
  std::map<int, std::vector<double>> compute_ends;          // rank -> sorted compute ends
  for (const auto& e : measured.events) {
    if (e.stream == Stream::send)
      send_posted[{e.action.stage, e.action.microbatch, static_cast<int>(e.action.type)}] = e.start_ms;
    if (e.stream == Stream::compute) compute_ends[e.rank].push_back(e.end_ms);
  }
  for (auto& [r, v] : compute_ends) std::sort(v.begin(), v.end());
  double delay_sum = 0;
  int delays = 0;
  for (const auto& e : measured.events) {
    if (e.stream != Stream::recv) continue;
    const bool fwd = e.action.type == ActionType::RECV_F;
    auto it = send_posted.find({fwd ? e.action.stage - 1 : e.action.stage + 1, e.action.microbatch,
                                static_cast<int>(fwd ? ActionType::SEND_F : ActionType::SEND_B)});
    if (it == send_posted.end()) continue;
    double waited_from = std::max(e.start_ms, it->second);
    const auto& ends = compute_ends[e.rank];
    auto before = std::upper_bound(ends.begin(), ends.end(), e.end_ms);
    if (before != ends.begin()) waited_from = std::max(waited_from, *std::prev(before));
    delay_sum += std::max(0.0, e.end_ms - waited_from);
    ++delays;
  }
  const double seen_latency_s = delays ? std::max(link.latency_s, delay_sum / delays / 1e3) : link.latency_s;
  calibrated.step_ms *= seen_stretch;
  const double calibrated_ms =
      simulate(sch, stretched(base, seen_stretch),
               flat_cluster(ranks, link.bandwidth_bytes_per_s, seen_latency_s), calibrated)
          .metrics.step_time_ms;
  Timeline predicted = res.timeline;
  predicted.source = "predicted";

  // 6. Compare.
  std::vector<double> m_busy(ranks, 0);
  for (const auto& e : measured.events)
    if (e.stream == Stream::compute && e.rank >= 0 && e.rank < ranks) m_busy[e.rank] += e.end_ms - e.start_ms;
  // The simulator's memory model counts a receive buffer only while its
  // transfer runs; the executor allocates it when the RECV is posted. Both are
  // reported; the executor-order model is the prediction compared.
  std::vector<std::int64_t> sim_act(ranks, 0);
  for (const auto& m : predicted.memory)
    if (m.rank >= 0 && m.rank < ranks) sim_act[m.rank] = std::max(sim_act[m.rank], m.activations + m.buffers);
  for (int r = 0; r < ranks; ++r) sim_act[r] = std::max(sim_act[r], step_transient[r]);
  std::vector<std::int64_t> p_act = executor_order_peaks(sch, base, step_transient);
  // Asynchronous schedules stash older weight versions during the stream; the
  // meter counts them above the stream's starting bytes.
  if (c.async)
    for (int s = 0; s < sch.num_stages; ++s)
      p_act[sch.stage_to_rank[s]] +=
          static_cast<std::int64_t>(weight_versions(sch.kind, s, sch.num_stages) - 1) *
          base.stages[s].param_bytes;

  // The measured step: the median over the run's steps after the first (the
  // first includes warm-up), which moves less than any single step on a
  // shared machine; the recorded (last) step's timeline gives the per-rank
  // busy time and bubble. Asynchronous streams are one step.
  const std::vector<double> all_steps = step_times_ms(measured);
  double measured_ms = measured.step_time_ms;
  if (all_steps.size() >= 2) {
    std::vector<double> steady(all_steps.begin() + 1, all_steps.end());
    std::sort(steady.begin(), steady.end());
    const std::size_t n = steady.size();
    measured_ms = n % 2 ? steady[n / 2] : (steady[n / 2 - 1] + steady[n / 2]) / 2;
  }

  nlohmann::ordered_json j;
  j["format"] = "pipekit-sim-vs-real/1";
  j["model"] = c.model.name;
  j["schedule"] = sch.kind;
  j["ranks"] = ranks;
  j["stages"] = sch.num_stages;
  j["microbatches"] = sch.num_microbatches;
  j["microbatch_size"] = mb_rows;
  j["seq"] = c.seq;
  j["threads_per_rank"] = c.threads;
  j["predicted_step_ms"] = res.metrics.step_time_ms;
  j["measured_step_ms"] = measured_ms;
  j["step_time_error"] = rel_error(res.metrics.step_time_ms, measured_ms);
  j["measured_step_times_ms"] = all_steps;
  j["measured_first_step"] = c.start_step + 1;  // the step measured_step_times_ms starts at
  j["measured_last_step_ms"] = measured.step_time_ms;
  // What the same plan would take with a device per rank (the planner's view).
  j["dedicated_step_ms"] = dedicated_ms;
  j["run_calibrated_step_ms"] = calibrated_ms;
  j["run_calibrated_step_time_error"] = rel_error(calibrated_ms, measured_ms);
  double worst_mem = 0;
  for (int r = 0; r < ranks; ++r) {
    nlohmann::ordered_json jr;
    const auto& pr = res.metrics.ranks[r];
    const std::int64_t m_act = meta_int(measured, "peak_activation_bytes.rank" + std::to_string(r));
    jr["rank"] = r;
    jr["predicted_busy_ms"] = pr.busy_ms;
    jr["measured_busy_ms"] = m_busy[r];
    jr["busy_error"] = rel_error(pr.busy_ms, m_busy[r]);
    jr["predicted_bubble_ms"] = res.metrics.step_time_ms - pr.busy_ms;
    jr["measured_bubble_ms"] = measured.step_time_ms - m_busy[r];
    jr["predicted_bubble_fraction"] = (res.metrics.step_time_ms - pr.busy_ms) / res.metrics.step_time_ms;
    jr["measured_bubble_fraction"] = (measured.step_time_ms - m_busy[r]) / measured.step_time_ms;
    jr["predicted_peak_activation_bytes"] = p_act[r];
    jr["measured_peak_activation_bytes"] = m_act;
    jr["simulator_peak_activation_bytes"] = sim_act[r];
    const double me = rel_error(static_cast<double>(p_act[r]), static_cast<double>(m_act));
    jr["peak_activation_error"] = me;
    worst_mem = std::max(worst_mem, std::abs(me));
    // Pages the rank first touched inside the measured step: a warm step has
    // next to none, and thousands say the measurement includes warm-up.
    if (measured.meta.count("page_faults.rank" + std::to_string(r)))
      jr["measured_page_faults"] = meta_int(measured, "page_faults.rank" + std::to_string(r));
    // Messaging's processor time: the overhead charged per message end
    // against what the rank's other threads (Gloo's transport) used.
    int ends = 0;
    for (const auto& e : measured.events)
      if (e.rank == r && (e.stream == Stream::send || e.stream == Stream::recv)) ++ends;
    jr["message_ends"] = ends;
    jr["predicted_message_cpu_ms"] = ends * so.message_overhead_ms;
    if (double ms = meta_number(measured, "other_threads_cpu_ms.rank" + std::to_string(r)); ms >= 0)
      jr["measured_other_threads_cpu_ms"] = ms;
    j["per_rank"].push_back(jr);
  }
  j["worst_peak_activation_error"] = worst_mem;
  auto& cal = j["calibration"];
  cal["shared_device"] = shared;
  cal["shared_capacity"] = corun.capacity;
  cal["shared_groups"] = nlohmann::json::array();
  for (const auto& d : devices)
    cal["shared_groups"].push_back(
        {{"ranks", d.ranks}, {"capacity", d.capacity}, {"step_capacity", d.step_capacity}});
  cal["shared_step_capacity"] = corun_step.capacity;
  cal["corun_step_alone_per_s"] = corun_step.alone_per_s;
  cal["corun_step_together_per_s"] = corun_step.together_per_s;
  cal["corun_alone_per_s"] = corun.alone_per_s;
  cal["corun_together_per_s"] = corun.together_per_s;
  cal["simulation_rounds"] = sh.rounds;
  cal["run_compute_stretch"] = seen_stretch;
  cal["run_message_delay_us"] = seen_latency_s * 1e6;
  cal["logical_cores"] = cores;
  cal["profiler_wall_over_cpu"] = wall_over_cpu;
  cal["link_latency_us"] = link.latency_s * 1e6;
  cal["message_bytes"] = link.message_bytes;
  if (loaded_transport_cpu_s > 0)  // measured: a shared CPU with readable scheduler statistics
    cal["loaded_transport_cpu_per_message_us"] = loaded_transport_cpu_s * 1e6;
  cal["loaded_message_delay_us"] = loaded_delay_s * 1e6;
  cal["message_cpu_us"] = link.cpu_per_message_s * 1e6;
  cal["message_overhead_per_end_us"] = so.message_overhead_ms * 1e3;
  cal["link_bandwidth_MBps"] = link.bandwidth_bytes_per_s / 1e6;
  cal["host_staging_MBps"] = staging_bytes_per_s / 1e6;        // 0: not staged
  cal["weight_copy_MBps"] = so.weight_copy_bytes_per_s / 1e6;  // 0: not an asynchronous schedule
  cal["optimizer_step_ms"] = step.ms;                          // measured, on the largest stage
  cal["stage_step_ms"] = nlohmann::json::array();  // each stage's before sharing (weight copies included)
  for (const auto& st : base.stages) cal["stage_step_ms"].push_back(st.step_ms);
  cal["profile"] = o.profile_path.empty() ? "measured now" : o.profile_path;
  cal["profile_forward_ms"] = totals(prof).forward_ms;
  cal["profile_backward_ms"] = totals(prof).backward_ms;
  cal["load_average_1min"] = load_average();
  cal["cpu"] = cpu_model_name();
  cal["torch"] = TORCH_VERSION;
  write_text_file(o.out, j.dump(2) + "\n");
  write_text_file(predicted_timeline_path(o.out), timeline_to_json(predicted));

  VizOutputs viz;
  viz.html = o.html.empty() ? (o.out.size() > 5 && o.out.substr(o.out.size() - 5) == ".json"
                                   ? o.out.substr(0, o.out.size() - 5) + ".html"
                                   : o.out + ".html")
                            : o.html;
  // The charts show the recorded last step; the title also gives the median
  // the error is computed from.
  viz.title = all_steps.size() >= 2
                  ? fmt::format(
                        "{} {} on {} ranks: measured vs predicted (median step {:.1f} ms over {} "
                        "steps, the last {:.1f} shown, vs {:.1f} ms predicted)",
                        c.model.name, sch.kind, ranks, measured_ms, all_steps.size() - 1,
                        measured.step_time_ms, res.metrics.step_time_ms)
                  : fmt::format("{} {} on {} ranks: measured vs predicted (step {:.1f} vs {:.1f} ms)",
                                c.model.name, sch.kind, ranks, measured_ms, res.metrics.step_time_ms);
  // The report's throughput row reads samples per step from each timeline's meta.
  Timeline measured_shown = measured, predicted_shown = predicted;
  const std::string samples = std::to_string(static_cast<long long>(mb_rows) * sch.num_microbatches);
  measured_shown.meta["samples_per_step"] = samples;
  predicted_shown.meta["samples_per_step"] = samples;
  auto lines = write_viz_outputs(viz, measured_shown, nullptr, &predicted_shown);

  fmt::print("sim vs real: {} {} on {} ranks, {} micro-batches of {} ({}, link {:.0f} us + {:.0f} MB/s)\n",
             c.model.name, sch.kind, ranks, sch.num_microbatches, mb_rows,
             !shared ? std::string("a device per rank")
             : devices.size() == 1
                 ? fmt::format("{} ranks share one {} with capacity {:.2f} ({:.2f} for optimizer steps)",
                               devices[0].ranks.size(), c.device == "cpu" ? "CPU" : "GPU",
                               devices[0].capacity, devices[0].step_capacity)
                 : fmt::format("{} groups of ranks share a GPU each", devices.size()),
             link.latency_s * 1e6, link.bandwidth_bytes_per_s / 1e6);
  fmt::print("  {:<28} {:>12} {:>12} {:>8}\n", "", "predicted", "measured", "error");
  fmt::print("  {:<28} {:>12.2f} {:>12.2f} {:>+7.1f}%\n",
             all_steps.size() >= 2 ? fmt::format("step ms (median of {})", all_steps.size() - 1)
                                   : std::string("step ms"),
             res.metrics.step_time_ms, measured_ms, 100 * rel_error(res.metrics.step_time_ms, measured_ms));
  if (shared)
    fmt::print("  {:<28} {:>12.2f} {:>12.2f} {:>+7.1f}%\n", "step ms (a device per rank)", dedicated_ms,
               measured_ms, 100 * rel_error(dedicated_ms, measured_ms));
  fmt::print("  {:<28} {:>12.2f} {:>12.2f} {:>+7.1f}%\n", "step ms (run-calibrated)", calibrated_ms,
             measured_ms, 100 * rel_error(calibrated_ms, measured_ms));
  for (const auto& jr : j["per_rank"]) {
    const int r = jr["rank"];
    fmt::print("  {:<28} {:>12.2f} {:>12.2f} {:>+7.1f}%\n", fmt::format("rank {} busy ms", r),
               jr["predicted_busy_ms"].get<double>(), jr["measured_busy_ms"].get<double>(),
               100 * jr["busy_error"].get<double>());
    fmt::print("  {:<28} {:>12.2f} {:>12.2f}\n", fmt::format("rank {} bubble ms", r),
               jr["predicted_bubble_ms"].get<double>(), jr["measured_bubble_ms"].get<double>());
    if (jr.contains("measured_other_threads_cpu_ms"))
      fmt::print("  {:<28} {:>12.2f} {:>12.2f}\n", fmt::format("rank {} message CPU ms", r),
                 jr["predicted_message_cpu_ms"].get<double>(),
                 jr["measured_other_threads_cpu_ms"].get<double>());
    fmt::print("  {:<28} {:>12} {:>12} {:>+7.1f}%\n", fmt::format("rank {} peak activation B", r),
               jr["predicted_peak_activation_bytes"].get<std::int64_t>(),
               jr["measured_peak_activation_bytes"].get<std::int64_t>(),
               100 * jr["peak_activation_error"].get<double>());
  }
  fmt::print("compare: {} (predicted timeline: {})\n", o.out, predicted_timeline_path(o.out));
  for (const auto& l : lines) fmt::print("{}\n", l);
  std::fflush(stdout);
  return 0;
}

}  // namespace pipekit
