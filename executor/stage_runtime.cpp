// run_rank(): one rank of a pipeline job. Builds only this rank's stages, then
// executes its action list of the lowered schedule, step after step:
//   F  forward of one micro-batch; the stage input (a leaf) and output (with its
//      autograd graph) are kept until B. Stages that have R actions run F under
//      NoGradGuard and keep only the input.
//   R  recompute the forward with autograd from the kept input.
//   B  backward from the loss (last stage) or the received output gradient;
//      the input's gradient is kept for SEND_B (or the previous local stage).
//   SEND_* post an asynchronous Gloo send; the Work and the tensor stay alive
//      until it completes, at the latest at the end of the step.
//   RECV_* post an asynchronous receive into a buffer of the shape the model
//      config gives for that boundary; F/B wait on it when they need it.
//   I, W  zero-bubble: I computes only the input gradient (graph retained), W
//      the parameter gradients later, added to .grad.
//   STEP  optimizer step of that stage (after summing tied gradients).
// Asynchronous schedules (pipedream, 2bw) run the whole action list once as a
// stream with weight stashing (see README: each F records the version it
// used, its B reloads exactly it, STEP updates the newest).
// Failures: every wait is bounded by --timeout; errors name the action, step,
// peer rank and last completed step; NaN/inf outputs stop the run.
// Tags are (boundary stage, micro-batch, direction), so messages never mix.
// Stages on the same rank hand tensors over directly.
// --device cuda: every rank computes on its GPU (LOCAL_RANK % GPUs). Ranks on
// distinct GPUs exchange boundary tensors over NCCL (one channel per
// direction, see nccl_channel.h); ranks sharing a GPU, and all control traffic
// (tied gradients, replica all-reduce, verify, losses), go through Gloo with
// host copies. Compute actions end with a device synchronize so the timeline
// holds GPU time, not launch time; memory is the caching allocator's count.
#include <torch/torch.h>

#include "executor/gpu_transport.h"
#if PIPEKIT_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <unistd.h>

#include "core/formats.h"
#include "core/timeline_merge.h"
#include "executor/batch_source.h"
#include "executor/checkpoint.h"
#include "executor/compute_threads.h"
#include "executor/host_memory.h"
#include "executor/memory_meter.h"
#include "executor/memory_prediction.h"
#include "executor/model_layers.h"
#include "executor/nccl_channel.h"
#include "executor/reference_training.h"
#include "executor/replica_layout.h"
#include "executor/run_config.h"
#include "executor/thread_cpu.h"
#include "simulator/memory_model.h"
#include "simulator/round_robin.h"
#include "simulator/schedule_validator.h"
#include "simulator/stream_cut.h"

namespace pipekit {
namespace {

using Clock = std::chrono::steady_clock;
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

constexpr int kTiedTag = 1 << 29;
constexpr int kParamTag = (1 << 29) + 1024;

struct Pending {
  std::vector<torch::Tensor> bufs;  // Gloo wants an lvalue vector that outlives the Work
  WorkPtr work;
  TimelineEvent event;
  bool done = false;
};

struct LocalStage {
  int stage = 0;
  bool first = false, last = false, recompute = false;
  std::vector<ModelLayer> layers;
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::Optimizer> opt;
  std::vector<std::int64_t> in_shape, out_shape;  // boundary shapes (not for first input / last output)
  std::map<int, torch::Tensor> input, output, grad_in;
  // Zero-bubble: the output gradient I used, kept for W.
  std::map<int, torch::Tensor> out_grad;
  // Asynchronous schedules (weight stashing): the optimizer updates `master`,
  // the newest weights; `params` (what the layers compute with) hold the
  // version the current F/B needs, copied in without autograd seeing it, so
  // graphs of micro-batches in flight stay valid.
  std::vector<torch::Tensor> master;
  std::map<int, std::vector<torch::Tensor>> versions;  // version (updates applied) -> weights
  std::map<int, int> mb_version;                       // in-flight micro-batch -> version its F used
  int updates = 0, loaded = 0, forwards = 0;
  std::size_t max_versions = 1;
  // gpt tie_weights: this stage's copy of the shared table (embedding in the
  // first stage, head in the last; one stage may hold both).
  torch::Tensor tied_embed, tied_head;
};

std::int64_t tensor_bytes(const torch::Tensor& t) {
  return t.defined() ? static_cast<std::int64_t>(t.numel() * t.element_size()) : 0;
}

// Bytes of one copy of a stage's weights (counted, not copied).
std::int64_t param_bytes(const LocalStage& s) {
  std::int64_t n = 0;
  for (const auto& p : s.params) n += tensor_bytes(p);
  return n;
}

// c10 errors carry a C++ backtrace the user does not need.
std::string short_what(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

class RankRunner {
 public:
  RankRunner(const RunConfig& c, const RankIdentity& id)
      : c_(c),
        id_(id),
        layout_(c.replica_counts()),
        prank_(layout_.group_of(id.rank)),
        replica_(layout_.replica_of(id.rank)),
        data_(c.model, c.data, c.batch, c.seq, c.minibatch_mbs, c.seed) {}

  int run();

 private:
  void connect();
  void choose_device_and_transport();
  torch::Tensor to_dev(const torch::Tensor& t) const { return cuda_ ? t.to(dev_) : t; }
  static torch::Tensor to_host(const torch::Tensor& t) { return t.is_cpu() ? t : t.to(torch::kCPU); }
  PeerChannel* channel(ActionType t) const {
    if (transport_ != Transport::nccl) return nullptr;
    return t == ActionType::SEND_F || t == ActionType::RECV_F ? fwd_.get() : bwd_.get();
  }
  void build();
  double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count(); }
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(static_cast<std::int64_t>(c_.timeout_s * 1000));
  }
  LocalStage& local(int stage);
  bool is_local(int stage) const {
    return stage >= 0 && stage < num_stages_ && c_.schedule.stage_to_rank[stage] == prank_;
  }
  // Global rank holding `stage` in this rank's replica of the pipeline (its
  // first replica where that stage has fewer).
  int peer(int stage) const {
    const int g = c_.schedule.stage_to_rank.at(stage);
    return layout_.rank(g, std::min(replica_, layout_.replicas(g) - 1));
  }
  int my_replicas() const { return layout_.replicas(prank_); }
  // The ranks exchanging micro-batch `mb` with `stage`'s pipeline rank: the
  // replicas whose rows overlap this one's (flush: micro-batches are split),
  // or the one replica the micro-batch was dealt to (asynchronous: round-robin).
  std::vector<RowPart> exchange(int stage, int mb) const {
    const int g = c_.schedule.stage_to_rank.at(stage);
    if (c_.async) {
      const int j = mb % layout_.replicas(g);
      return {RowPart{j, layout_.rank(g, j), 0, mb_rows()}};
    }
    return layout_.overlaps(prank_, replica_, g, mb_rows());
  }
  bool runs_here(std::size_t position) const {
    return owners_.empty() || owners_[position] < 0 || owners_[position] == replica_;
  }
  std::int64_t mb_rows() const { return c_.batch / c_.minibatch_mbs; }  // a whole micro-batch
  void allreduce_grads(LocalStage& s);
  int tag(int boundary, int mb, int dir) const { return (boundary * mbs_ + mb) * 2 + dir; }
  void execute(const Action& a, int step);
  void forward(LocalStage& s, int mb, int step);
  void recompute(LocalStage& s, int mb, int step);
  void backward(LocalStage& s, int mb);
  torch::Tensor output_grad(LocalStage& s, int mb);
  void input_grad(LocalStage& s, int mb);
  void weight_grad(LocalStage& s, int mb);
  MicroBatch batch(int step, int mb) const {
    return c_.async ? data_.get(mb / c_.minibatch_mbs, mb % c_.minibatch_mbs) : data_.get(step, mb);
  }
  // This replica's share of a micro-batch's samples (all of them without
  // replicas, and for asynchronous schedules, which deal whole micro-batches).
  torch::Tensor rows(torch::Tensor t) const {
    if (my_replicas() <= 1 || c_.async) return t;
    const std::int64_t n = t.size(0);
    return t.narrow(0, layout_.first_row(prank_, replica_, n), layout_.slice_rows(prank_, n)).contiguous();
  }
  int pick_version(LocalStage& s, int mb);
  void load_version(LocalStage& s, int v);
  void async_step(LocalStage& s);
  void prefault_stream_memory();
  std::vector<double> step_losses() const;
  void write_progress(int step);
  void save_checkpoint(int step);
  void load_checkpoint(int step);
  void save_stream_checkpoint(int minibatch);
  void load_stream_checkpoint(int minibatch, const RankCut& cut);
  void resume_stream(const RankCut& cut);
  RankCut my_cut(int minibatches) const;
  void report_memory(int step, std::int64_t peak_act);
  Pending start_transfer(const Action& a, Stream stream, torch::Tensor buf, int peer);
  void post_send(const Action& a, torch::Tensor t, int stage, int tag);
  void post_recv(const Action& a, std::vector<std::int64_t> shape, int stage, int tag);
  torch::Tensor take_recv(int stage, int mb, ActionType type);
  void poll_sends();
  void finish_step();
  void sum_tied_grads();
  void record(const Action& a, double start, int version = -1);
  void sample_memory();
  void gather_timeline(double step_ms, std::int64_t peak_act);
  int verify();

  const RunConfig& c_;
  RankIdentity id_;
  ReplicaLayout layout_;                                 // replicas of every pipeline rank
  int prank_ = 0, replica_ = 0;                          // pipeline rank and replica index
  c10::intrusive_ptr<c10d::ProcessGroupGloo> stage_pg_;  // this pipeline rank's replicas
  BatchSource data_;
  int num_stages_ = 0, mbs_ = 0;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
  torch::Device dev_{torch::kCPU};
  bool cuda_ = false;
  Transport transport_ = Transport::gloo;
  std::unique_ptr<PeerChannel> fwd_, bwd_;  // NCCL: activations downstream, gradients upstream
  std::vector<LocalStage> stages_;
  std::vector<std::vector<std::int64_t>> layer_shapes_;
  std::vector<Pending> sends_;
  std::map<std::tuple<int, int, int>, std::vector<Pending>> recvs_;  // (stage, mb, type) -> parts
  Clock::time_point t0_;
  bool recording_ = false;
  bool tied_done_ = false;
  std::map<int, double> mb_loss_;       // last stage: scaled loss of each micro-batch this step
  std::map<std::size_t, int> save_at_;  // asynchronous: list position -> minibatch checkpointed there
  std::string device_key_;              // "gpu-index identity host" (recorded in the timeline's meta)
  std::string clock_id_;                // ranks with the same id share one steady clock
  std::vector<int>
      owners_;  // asynchronous replicas: round-robin owner of each action of the list; empty: all mine
  std::map<std::size_t, int> done_at_;  // asynchronous: list position -> minibatches this rank has finished
  std::int64_t step_base_bytes_ = 0;
  std::vector<RankStepSpan> step_spans_;  // every step this run: origin and end (the timeline's meta)
  // The process's minor page faults in the step (at its start, then the count).
  long step_faults_ = 0;
  // Other threads' processor time in the step (thread_cpu.h): the sample at
  // its start, then the ms; none where unreadable or not measured.
  std::optional<std::map<long, double>> step_other_cpu_;
  std::optional<double> step_other_cpu_ms_;
  std::vector<TimelineEvent> events_;
  std::vector<MemorySample> memory_;
};

LocalStage& RankRunner::local(int stage) {
  for (auto& s : stages_)
    if (s.stage == stage) return s;
  throw std::runtime_error(
      fmt::format("rank {} runs an action of stage {}, which the schedule places on rank {}", id_.rank, stage,
                  c_.schedule.stage_to_rank.at(stage)));
}

void RankRunner::connect() {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(id_.master_port);
  so.isServer = id_.rank == 0;
  so.numWorkers = id_.world_size;
  so.waitWorkers = true;
  so.timeout = timeout();
  store_ = c10::make_intrusive<c10d::TCPStore>(id_.master_addr, so);
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout());
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  const bool loopback = id_.master_addr.rfind("127.", 0) == 0 || id_.master_addr == "localhost";
  if (ifname && *ifname)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (loopback)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = 2;
  pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, id_.rank, id_.world_size, opts);
  if (my_replicas() > 1) {
    // One group per pipeline rank: its replicas, which all-reduce gradients.
    auto prefix =
        c10::make_intrusive<c10d::PrefixStore>("pipekit/replicas/" + std::to_string(prank_), store_);
    stage_pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(prefix, replica_, my_replicas(), opts);
  }
  choose_device_and_transport();
}

// Every rank publishes its host and GPU, so all ranks make the same choice.
void RankRunner::choose_device_and_transport() {
  int gpu = -1;
  if (c_.device == "cuda") {
    gpu = cuda_device_for_local_rank(id_.local_rank);
    if (gpu < 0)
      throw std::runtime_error(
          fmt::format("rank {}: --device cuda, but LibTorch sees no CUDA device on this host", id_.rank));
    dev_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu));
    cuda_ = true;
#if PIPEKIT_TORCH_CUDA
    // The rank's current device: cuBLAS handles, streams and events follow it
    // (without it every rank's first cuBLAS call warned and used device 0's context).
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(gpu));
#endif
    memory_meter::use_cuda(gpu);
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // Ranks on one physical GPU have the same identity (its UUID) even when
  // each sees it under another index.
  const std::string mine =
      format_device_id(DeviceId{gpu, gpu < 0 ? std::string("cpu") : cuda_device_identity(gpu), host});
  device_key_ = mine;
  // One booted kernel has one CLOCK_MONOTONIC (steady_clock), so its boot id
  // names the clock; the timeline merge aligns the ranks that share it.
  {
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    if (!(boot >> clock_id_)) clock_id_ = host;
  }
  store_->set("pipekit/device/" + std::to_string(id_.rank),
              std::vector<std::uint8_t>(mine.begin(), mine.end()));
  std::map<std::string, int> ids;  // "identity host" -> physical GPU id
  std::vector<int> rank_gpu;
  std::vector<std::string> names;
  for (int r = 0; r < id_.world_size; ++r) {
    auto b = store_->get("pipekit/device/" + std::to_string(r));
    const DeviceId d = parse_device_id(std::string(b.begin(), b.end()));
    names.push_back(d.index < 0 ? std::string("cpu") : fmt::format("cuda:{} on {}", d.index, d.host));
    rank_gpu.push_back(d.index < 0 ? -1 : ids.emplace(d.key(), static_cast<int>(ids.size())).first->second);
  }
  transport_ = choose_transport(rank_gpu);
  std::string note;
  if (transport_ == Transport::nccl) {
    // NCCL matches messages in posting order; a schedule file may not keep it.
    auto bad = fifo_order_mismatches(c_.schedule);
    // Each channel's pair communicators must carry one direction only, or
    // sends crossing on one NCCL stream can wait on each other forever: that
    // happens when activations also flow from a higher rank to a lower one
    // (interleaved wrapping around, zbv folding back), or gradients upward.
    std::string crossing;
    const auto& place = c_.schedule.stage_to_rank;
    for (int s = 0; s + 1 < c_.schedule.num_stages && crossing.empty(); ++s)
      if (place[s] > place[s + 1])
        crossing =
            fmt::format("stage {} on rank {} feeds stage {} on rank {}", s, place[s], s + 1, place[s + 1]);
    if (!bad.empty()) {
      transport_ = Transport::gloo_host_staged;
      note = "; NCCL refused because the schedule's send and receive orders differ (" + bad[0] + ")";
    } else if (!crossing.empty()) {
      transport_ = Transport::gloo_host_staged;
      note = "; NCCL not used: activations flow both ways between ranks (" + crossing +
             "), which one channel per direction cannot carry without deadlock";
    } else {
      fwd_ = make_nccl_channel(store_, "pipekit/nccl/forward", id_.rank, id_.world_size, timeout(), gpu);
      bwd_ = make_nccl_channel(store_, "pipekit/nccl/backward", id_.rank, id_.world_size, timeout(), gpu);
    }
  }
  if (id_.rank == 0 && !c_.quiet && c_.device == "cuda")
    std::printf("%s%s\n", describe_transport(transport_, names).c_str(), note.c_str());
}

void RankRunner::build() {
  const Schedule& sch = c_.schedule;
  num_stages_ = sch.num_stages;
  mbs_ = sch.num_microbatches;
  const std::int64_t mb_rows = this->mb_rows() / (c_.async ? 1 : my_replicas());  // this replica's rows
  layer_shapes_ = layer_output_shapes(c_.model, mb_rows, c_.seq, c_.seed);
  for (int s = 0; s < num_stages_; ++s) {
    if (sch.stage_to_rank[s] != prank_) continue;
    LocalStage st;
    st.stage = s;
    st.first = s == 0;
    st.last = s == num_stages_ - 1;
    for (const Action& a : sch.actions[prank_])
      if (a.stage == s && a.type == ActionType::R) st.recompute = true;
    const auto& layers = c_.stage_layers[s];
    st.layers = build_layers(c_.model, layers, c_.seed);
    move_layers(st.layers, dev_);  // before the optimizer exists: its state follows the weights
    for (auto& l : st.layers) {
      for (auto& p : l.params) st.params.push_back(p);
      if (l.tied_weight.defined()) (l.tied_slot ? st.tied_head : st.tied_embed) = l.tied_weight;
    }
    if (c_.async) {
      std::vector<torch::Tensor> v0;
      for (auto& p : st.params) {
        st.master.push_back(p.detach().clone().requires_grad_(true));
        v0.push_back(p.detach().clone());
      }
      st.versions[0] = std::move(v0);
      st.opt = make_optimizer(c_.optimizer, st.master, c_.lr);
    } else {
      st.opt = make_optimizer(c_.optimizer, st.params, c_.lr);
    }
    if (!st.first) st.in_shape = layer_shapes_.at(layers.front() - 1);
    st.out_shape = layer_shapes_.at(layers.back());
    stages_.push_back(std::move(st));
  }
}

void RankRunner::record(const Action& a, double start, int version) {
  if (!recording_) return;
  TimelineEvent e;
  e.weight_version = version;
  e.rank = id_.rank;
  e.stream = Stream::compute;
  e.action = a;
  e.start_ms = start;
  if (cuda_) torch::cuda::synchronize(dev_.index());
  e.end_ms = now_ms();
  events_.push_back(e);
  sample_memory();
}

void RankRunner::sample_memory() {
  if (!recording_) return;
  MemorySample m;
  m.rank = id_.rank;
  m.time_ms = now_ms();
  for (auto& s : stages_)
    for (auto& p : s.params) {
      m.weights += tensor_bytes(p);
      m.gradients += tensor_bytes(p.grad());
    }
  m.activations = std::max<std::int64_t>(0, memory_meter::live_bytes() - step_base_bytes_);
  memory_.push_back(m);
}

// A transfer's buffer and its timeline event, started now; the caller posts the Work.
Pending RankRunner::start_transfer(const Action& a, Stream stream, torch::Tensor buf, int peer) {
  Pending p;
  p.bufs = {std::move(buf)};
  p.event.rank = id_.rank;
  p.event.stream = stream;
  p.event.action = a;
  p.event.peer = peer;
  p.event.bytes = tensor_bytes(p.bufs[0]);
  p.event.start_ms = now_ms();
  return p;
}

// Sends this replica's rows of `t` to every replica of `stage`'s pipeline
// rank whose rows overlap them (one peer without replicas).
void RankRunner::post_send(const Action& a, torch::Tensor t, int stage, int tg) {
  PeerChannel* ch = channel(a.type);
  for (const RowPart& part : exchange(stage, a.microbatch)) {
    torch::Tensor rows = t.detach().narrow(0, part.offset, part.rows);
    Pending p =
        start_transfer(a, Stream::send, ch ? rows.contiguous() : to_host(rows).contiguous(), part.rank);
    p.work = ch ? ch->send(p.bufs, part.rank, tg) : pg_->send(p.bufs, part.rank, tg);
    sends_.push_back(std::move(p));
  }
}

// Receives this replica's rows from every replica of `stage`'s pipeline rank
// that holds some of them; take_recv() joins the parts in row order.
void RankRunner::post_recv(const Action& a, std::vector<std::int64_t> shape, int stage, int tg) {
  PeerChannel* ch = channel(a.type);
  auto key = std::make_tuple(a.stage, a.microbatch, static_cast<int>(a.type));
  if (recvs_.count(key))
    throw std::runtime_error(fmt::format("rank {}: {} posted twice in one step", id_.rank, to_string(a)));
  std::vector<Pending> parts;
  for (const RowPart& part : exchange(stage, a.microbatch)) {
    shape.at(0) = part.rows;
    Pending p = start_transfer(a, Stream::recv,
                               torch::empty(shape, torch::TensorOptions().device(ch ? dev_ : torch::kCPU)),
                               part.rank);
    p.work = ch ? ch->recv(p.bufs, part.rank, tg) : pg_->recv(p.bufs, part.rank, tg);
    parts.push_back(std::move(p));
  }
  recvs_.emplace(key, std::move(parts));
}

torch::Tensor RankRunner::take_recv(int stage, int mb, ActionType type) {
  auto it = recvs_.find(std::make_tuple(stage, mb, static_cast<int>(type)));
  if (it == recvs_.end())
    throw std::runtime_error(
        fmt::format("rank {}: the schedule needs {} before using it, but it was not posted", id_.rank,
                    to_string(Action{stage, type, mb})));
  std::vector<Pending> parts = std::move(it->second);
  recvs_.erase(it);
  std::vector<torch::Tensor> rows;
  for (auto& p : parts) {
    p.work->wait(timeout());
    p.event.end_ms = now_ms();
    if (recording_) events_.push_back(p.event);
    rows.push_back(p.bufs[0]);
  }
  return to_dev(rows.size() == 1 ? rows[0] : torch::cat(rows, 0));
}

void RankRunner::poll_sends() {
  for (auto& p : sends_)
    if (!p.done && p.work->isCompleted()) {
      p.done = true;
      p.event.end_ms = now_ms();
    }
}

void RankRunner::forward(LocalStage& s, int mb, int step) {
  torch::Tensor in;
  if (s.first) {
    in = to_dev(rows(input_tensor(batch(step, mb))));
  } else if (is_local(s.stage - 1)) {
    auto& prev = local(s.stage - 1);
    in = prev.output.at(mb).detach().requires_grad_(true);
    if (prev.recompute) prev.output.erase(mb);  // R rebuilds it; keep only the input meanwhile
  } else {
    in = take_recv(s.stage, mb, ActionType::RECV_F).requires_grad_(true);
  }
  const int version = pick_version(s, mb);
  load_version(s, version);
  if (c_.async) s.mb_version[mb] = version;
  s.forwards = std::max(s.forwards, mb + 1);  // micro-batches of the stream this stage has passed
  const double start = now_ms();
  torch::Tensor out;
  {
    std::optional<torch::NoGradGuard> no_grad;
    if (s.recompute) no_grad.emplace();
    out = forward_layers(s.layers, in);
    if (s.last) {
      out = scaled_loss(out, to_dev(rows(target_tensor(batch(step, mb)))), c_.loss_scale);
      // A replica's mean over its 1/r of the rows, divided by r: its share of
      // the micro-batch's mean, so gradients and losses add up over replicas.
      if (my_replicas() > 1 && !c_.async) out = out / static_cast<double>(my_replicas());
      mb_loss_[mb] = out.item<double>();
    }
  }
  // The first stage whose output is NaN/inf for a micro-batch is where it appeared.
  if (!torch::isfinite(out).all().item<bool>())
    throw std::runtime_error(
        fmt::format("non-finite {} (NaN or inf) at step {}, stage {} (rank {}), micro-batch {}; "
                    "lower --lr or check the data",
                    s.last ? "loss" : "activations", c_.async ? mb / c_.minibatch_mbs + 1 : step + 1, s.stage,
                    id_.rank, mb));
  s.input[mb] = in;
  s.output[mb] = out;
  record(Action{s.stage, ActionType::F, mb}, start, version);
}

void RankRunner::recompute(LocalStage& s, int mb, int step) {
  if (c_.async) load_version(s, s.mb_version.at(mb));
  const double start = now_ms();
  auto& in = s.input.at(mb);
  torch::Tensor out = forward_layers(s.layers, in);
  if (s.last) out = scaled_loss(out, to_dev(rows(target_tensor(batch(step, mb)))), c_.loss_scale);
  if (s.last && my_replicas() > 1 && !c_.async) out = out / static_cast<double>(my_replicas());
  s.output[mb] = out;
  record(Action{s.stage, ActionType::R, mb}, start);
}

torch::Tensor RankRunner::output_grad(LocalStage& s, int mb) {
  if (s.last) return {};
  if (is_local(s.stage + 1)) {
    auto& next = local(s.stage + 1);
    torch::Tensor g = next.grad_in.at(mb);
    next.grad_in.erase(mb);
    return g;
  }
  return take_recv(s.stage, mb, ActionType::RECV_B);
}

static torch::Tensor graph_output(const LocalStage& s, int mb, int rank) {
  torch::Tensor out = s.output.at(mb);
  if (!out.requires_grad())
    throw std::runtime_error(
        fmt::format("rank {}: backward of stage {} micro-batch {} has no autograd graph "
                    "(the schedule recomputes this stage but has no R before it)",
                    rank, s.stage, mb));
  return out;
}

void RankRunner::backward(LocalStage& s, int mb) {
  torch::Tensor grad = output_grad(s, mb);
  const int version = c_.async ? s.mb_version.at(mb) : -1;
  load_version(s, version);  // weight stashing: the backward sees the weights its forward used
  const double start = now_ms();
  torch::Tensor out = graph_output(s, mb, id_.rank);
  if (s.last)
    out.backward();
  else
    out.backward(grad);
  if (!s.first) s.grad_in[mb] = s.input.at(mb).grad();
  s.input.erase(mb);
  s.output.erase(mb);
  s.mb_version.erase(mb);
  record(Action{s.stage, ActionType::B, mb}, start, version);
}

// Zero-bubble I: only the gradient of the stage input (sent upstream at once);
// the graph is kept for W.
void RankRunner::input_grad(LocalStage& s, int mb) {
  torch::Tensor grad = output_grad(s, mb);
  const double start = now_ms();
  torch::Tensor out = graph_output(s, mb, id_.rank);
  if (!s.first) {
    std::vector<torch::Tensor> go;
    if (grad.defined()) go.push_back(grad);
    auto g = torch::autograd::grad({out}, {s.input.at(mb)}, go, /*retain_graph=*/true);
    s.grad_in[mb] = g[0];
  }
  s.out_grad[mb] = grad;
  record(Action{s.stage, ActionType::I, mb}, start);
}

// Zero-bubble W: the parameter gradients, accumulated into .grad as B would.
void RankRunner::weight_grad(LocalStage& s, int mb) {
  auto it = s.out_grad.find(mb);
  if (it == s.out_grad.end())
    throw std::runtime_error(
        fmt::format("rank {}: W of stage {} micro-batch {} before its I", id_.rank, s.stage, mb));
  const double start = now_ms();
  torch::Tensor out = graph_output(s, mb, id_.rank);
  std::vector<torch::Tensor> go;
  if (it->second.defined()) go.push_back(it->second);
  auto gs = torch::autograd::grad({out}, s.params, go, /*retain_graph=*/false, /*create_graph=*/false,
                                  /*allow_unused=*/true);
  for (std::size_t i = 0; i < gs.size(); ++i) {
    if (!gs[i].defined()) continue;
    auto& p = s.params[i];
    if (p.grad().defined())
      p.mutable_grad().add_(gs[i]);
    else
      p.mutable_grad() = gs[i].clone();  // autograd may hand out views; zero_grad must own it
  }
  s.out_grad.erase(it);
  s.input.erase(mb);
  s.output.erase(mb);
  record(Action{s.stage, ActionType::W, mb}, start);
}

// PipeDream: the newest weights. 2BW: minibatch t computes with the weights
// after t-1 updates (W(t-1)), so the update it feeds is one minibatch stale.
int RankRunner::pick_version(LocalStage& s, int mb) {
  if (!c_.async) return -1;
  const int v = c_.schedule.kind == "2bw" ? std::max(mb / c_.minibatch_mbs - 1, 0) : s.updates;
  if (!s.versions.count(v))
    throw std::runtime_error(
        fmt::format("rank {}: F of stage {} micro-batch {} needs weight version {}, which {}", id_.rank,
                    s.stage, mb, v, v > s.updates ? "does not exist yet" : "was already dropped"));
  return v;
}

void RankRunner::load_version(LocalStage& s, int v) {
  if (v < 0 || s.loaded == v) return;
  torch::NoGradGuard no_grad;
  const auto& w = s.versions.at(v);
  // variable_data(): same storage, its own version counter, so the saved
  // tensors of graphs in flight do not see the copy as a modification.
  for (std::size_t i = 0; i < w.size(); ++i) s.params[i].variable_data().copy_(w[i]);
  s.loaded = v;
}

void RankRunner::async_step(LocalStage& s) {
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    torch::Tensor g = s.params[i].grad();
    if (g.defined()) {
      s.master[i].mutable_grad().copy_(g);
      g.zero_();
    } else {
      s.master[i].mutable_grad().zero_();
    }
  }
  s.opt->step();
  ++s.updates;
  // Keep the versions micro-batches in flight use and the oldest any later F
  // may pick; drop the others before cloning the new one, so the stash never
  // holds a copy more than it keeps.
  const int future = c_.schedule.kind == "2bw" ? std::max(s.forwards / c_.minibatch_mbs - 1, 0) : s.updates;
  std::set<int> used;
  for (auto& [mb, v] : s.mb_version) used.insert(v);
  for (auto it = s.versions.begin(); it != s.versions.end();)
    it = it->first < future && !used.count(it->first) ? s.versions.erase(it) : std::next(it);
  std::vector<torch::Tensor> w;
  for (auto& m : s.master) w.push_back(m.detach().clone());
  s.versions[s.updates] = std::move(w);
  if (s.updates < future && !used.count(s.updates)) s.versions.erase(s.updates);
  s.max_versions = std::max(s.max_versions, s.versions.size());
}

// An asynchronous stream allocates the optimizer's state and new weight
// versions at its first STEPs, inside the measured stream (flush schedules
// have a whole step to warm up). Give the heap those pages first: per stage,
// the optimizer's state (Adam: two moments) plus the versions the stage
// keeps (simulator/memory_model.h). Called after the gradients exist, so
// they do not take these pages.
void RankRunner::prefault_stream_memory() {
  const int state = c_.optimizer == "adam" ? 2 : 0;
  std::int64_t bytes = 0;
  for (auto& s : stages_) {
    // On the host only blocks the heap serves can be paged in ahead; larger
    // ones are fresh mappings whenever they are allocated.
    std::int64_t per_copy = 0;
    for (const auto& p : s.params)
      if (cuda_ || heap_serves(tensor_bytes(p))) per_copy += tensor_bytes(p);
    bytes += per_copy * (state + weight_versions(c_.schedule.kind, s.stage, num_stages_));
  }
  if (cuda_)  // the caching allocator keeps the freed block and splits it later
    torch::empty({bytes}, torch::TensorOptions().dtype(torch::kUInt8).device(dev_));
  else
    prefault_host_memory(bytes);
}

// Replicated stages: the sum of the replicas' gradients. Each replica's loss
// share is already divided by the whole micro-batch's rows (see forward), so
// the sum is the full-batch gradient and every replica takes the same step.
void RankRunner::allreduce_grads(LocalStage& s) {
  std::vector<torch::Tensor> parts;
  for (auto& p : s.params)
    parts.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
  std::vector<torch::Tensor> buf = {to_host(torch::cat(parts))};
  stage_pg_->allreduce(buf)->wait(timeout());
  // pipedream: the replicas' micro-batches (one each) make one update, their
  // mean as PipeDream's data-parallel stages take it. 2bw: the minibatch's sum.
  if (c_.async && c_.schedule.kind == "pipedream") buf[0].div_(static_cast<double>(my_replicas()));
  buf[0] = to_dev(buf[0]);
  std::int64_t off = 0;
  for (auto& p : s.params) {
    const std::int64_t n = p.numel();
    if (p.grad().defined()) p.mutable_grad().copy_(buf[0].narrow(0, off, n).view_as(p));
    off += n;
  }
}

void RankRunner::sum_tied_grads() {
  if (tied_done_ || !c_.model.tie_weights || c_.model.kind != ModelKind::gpt) return;
  tied_done_ = true;
  const int last = num_stages_ - 1;
  if (is_local(0) && is_local(last)) {
    auto& a = local(0).tied_embed;
    auto& b = local(last).tied_head;
    auto sum = a.grad() + b.grad();
    a.mutable_grad().copy_(sum);
    b.mutable_grad().copy_(sum);
    return;
  }
  auto& mine = is_local(0) ? local(0).tied_embed : local(last).tied_head;
  const int peer = this->peer(is_local(0) ? last : 0);
  std::vector<torch::Tensor> out = {to_host(mine.grad()).clone()};
  std::vector<torch::Tensor> in = {torch::empty_like(out[0])};
  auto sw = pg_->send(out, peer, kTiedTag);
  auto rw = pg_->recv(in, peer, kTiedTag);
  rw->wait(timeout());
  sw->wait(timeout());
  mine.mutable_grad().add_(to_dev(in[0]));
}

void RankRunner::execute(const Action& a, int step) {
  switch (a.type) {
    case ActionType::F:
      forward(local(a.stage), a.microbatch, step);
      break;
    case ActionType::R:
      recompute(local(a.stage), a.microbatch, step);
      break;
    case ActionType::B:
      backward(local(a.stage), a.microbatch);
      break;
    case ActionType::I:
      input_grad(local(a.stage), a.microbatch);
      break;
    case ActionType::W:
      weight_grad(local(a.stage), a.microbatch);
      break;
    case ActionType::SEND_F: {
      if (is_local(a.stage + 1)) break;  // same rank: handed over directly
      auto& s = local(a.stage);
      post_send(a, s.output.at(a.microbatch), a.stage + 1, tag(a.stage, a.microbatch, 0));
      if (s.recompute) s.output.erase(a.microbatch);  // the send holds it until done; R rebuilds it
      break;
    }
    case ActionType::SEND_B: {
      if (is_local(a.stage - 1)) break;
      auto& s = local(a.stage);
      torch::Tensor g = s.grad_in.at(a.microbatch);
      s.grad_in.erase(a.microbatch);
      post_send(a, g, a.stage - 1, tag(a.stage - 1, a.microbatch, 1));
      break;
    }
    case ActionType::RECV_F:
      if (is_local(a.stage - 1)) break;
      post_recv(a, local(a.stage).in_shape, a.stage - 1, tag(a.stage - 1, a.microbatch, 0));
      break;
    case ActionType::RECV_B:
      if (is_local(a.stage + 1)) break;
      post_recv(a, local(a.stage).out_shape, a.stage + 1, tag(a.stage, a.microbatch, 1));
      break;
    case ActionType::STEP: {
      const double start = now_ms();
      auto& s = local(a.stage);
      // Tied weights: both copies take the sum of their gradients, at every
      // STEP of an asynchronous stream (the first and last stage take their
      // i-th STEPs for the same micro-batches), once per step otherwise.
      if (c_.async) tied_done_ = false;
      if (s.tied_embed.defined() || s.tied_head.defined()) sum_tied_grads();
      if (my_replicas() > 1) allreduce_grads(s);
      if (c_.async)
        async_step(s);
      else
        s.opt->step();
      record(a, start, c_.async ? s.updates : -1);
      break;
    }
    default:
      throw std::runtime_error(fmt::format("the executor does not run {} actions yet", to_string(a.type)));
  }
  poll_sends();
}

void RankRunner::finish_step() {
  for (auto& p : sends_) {
    p.work->wait(timeout());
    if (!p.done) p.event.end_ms = now_ms();
    if (recording_) events_.push_back(p.event);
  }
  sends_.clear();
  if (!recvs_.empty())
    throw std::runtime_error(
        fmt::format("rank {}: the step ended with {} receive(s) never used", id_.rank, recvs_.size()));
  for (auto& s : stages_)
    if (!s.input.empty() || !s.grad_in.empty() || !s.out_grad.empty())
      throw std::runtime_error(fmt::format(
          "rank {}: the step ended with micro-batches of stage {} left without backward", id_.rank, s.stage));
}

void RankRunner::gather_timeline(double step_ms, std::int64_t peak_act) {
  Timeline t;
  t.source = "measured";
  t.schedule = c_.schedule.kind;
  t.num_ranks = id_.world_size;  // replicas are ranks of their own
  t.num_stages = c_.schedule.num_stages;
  t.num_microbatches = c_.schedule.num_microbatches;
  t.virtual_stages = std::max(1, c_.schedule.virtual_stages());
  t.step_time_ms = step_ms;
  t.events = events_;
  t.memory = memory_;
  t.meta["peak_activation_bytes.rank" + std::to_string(id_.rank)] = std::to_string(peak_act);
  // Pages first touched inside the step: memory the run grew into while
  // measured (a warm step touches none; see prefault_stream_memory).
  t.meta["page_faults.rank" + std::to_string(id_.rank)] = std::to_string(step_faults_);
  t.meta["device.rank" + std::to_string(id_.rank)] = device_key_;
  // Processor time of the rank's other threads (Gloo's transport, mostly).
  if (step_other_cpu_ms_)
    t.meta["other_threads_cpu_ms.rank" + std::to_string(id_.rank)] =
        fmt::format("{:.3f}", *step_other_cpu_ms_);
  t.meta["step_spans.rank" + std::to_string(id_.rank)] = format_step_spans(step_spans_);
  // The recorded step is the last span's.
  t.meta["clock.rank" + std::to_string(id_.rank)] =
      format_rank_clock(clock_id_, step_spans_.back().origin_ns);
  if (id_.rank != 0) {
    const std::string js = timeline_to_json(t);
    store_->set("pipekit/timeline/" + std::to_string(id_.rank),
                std::vector<std::uint8_t>(js.begin(), js.end()));
    return;
  }
  std::vector<Timeline> parts;
  parts.push_back(std::move(t));
  for (int r = 1; r < id_.world_size; ++r) {
    auto bytes = store_->get("pipekit/timeline/" + std::to_string(r));
    parts.push_back(timeline_from_json(std::string(bytes.begin(), bytes.end()), "rank " + std::to_string(r)));
  }
  t = merge_rank_timelines(std::move(parts));
  t.meta["model"] = c_.model.name;
  t.meta["method"] =
      cuda_ ? "activation bytes = CUDA caching allocator's allocated bytes minus those at step start; "
              "compute actions end with a device synchronize"
            : "activation bytes = live CPU tensor bytes minus those live at step start (counting allocator)";
  t.meta["device"] = c_.device;
  t.meta["transport"] = to_string(transport_);
  write_text_file(c_.timeline_path, timeline_to_json(t));
}

// Loss per optimizer step (flush) or per minibatch (asynchronous): the mean
// over the minibatch's samples.
std::vector<double> RankRunner::step_losses() const {
  if (!c_.async) {
    double sum = 0;
    for (auto& [mb, l] : mb_loss_) sum += l;
    return {sum};
  }
  const int m = c_.minibatch_mbs;
  std::vector<double> out(c_.steps, 0.0);
  for (auto& [mb, l] : mb_loss_) out.at(mb / m) += l * c_.loss_scale / m;
  return out;
}

// The launcher names the last step a dead rank completed from these files.
void RankRunner::write_progress(int step) {
  const char* dir = std::getenv("PIPEKIT_PROGRESS_DIR");
  if (!dir || !*dir) return;
  const std::string path = fmt::format("{}/rank{}", dir, id_.rank);
  {
    std::ofstream out(path + ".tmp");
    out << step << "\n";
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

// Every rank's measured peak next to the simulator's prediction (rank 0 prints).
void RankRunner::report_memory(int step, std::int64_t peak_act) {
  std::int64_t params = 0;
  std::size_t versions = 1;
  for (auto& s : stages_) {
    params += param_bytes(s);
    versions = std::max(versions, s.max_versions);
  }
  const std::string key = "pipekit/memory/" + std::to_string(step) + "/";
  const std::string mine = fmt::format("{} {} {}", peak_act, versions, params);
  if (id_.rank != 0) {
    store_->set(key + std::to_string(id_.rank), std::vector<std::uint8_t>(mine.begin(), mine.end()));
    return;
  }
  if (step != (c_.async ? 0 : c_.steps - 1)) return;
  std::vector<PredictedRankMemory> pred = predict_memory(c_);
  std::printf("memory: %s, %d micro-batches of %d, %s; dynamic = activations + weight versions beyond one\n",
              c_.schedule.kind.c_str(), c_.minibatch_mbs, c_.batch / c_.minibatch_mbs, c_.optimizer.c_str());
  std::printf(
      "memory: rank  measured KiB  versions  predicted KiB  (activations + extra versions)  versions\n");
  for (int r = 0; r < id_.world_size; ++r) {
    std::string v = mine;
    if (r != 0) {
      auto b = store_->get(key + std::to_string(r));
      v.assign(b.begin(), b.end());
    }
    std::istringstream in(v);
    long long act = 0, n = 0, pb = 0;
    in >> act >> n >> pb;
    const auto& p = pred.at(layout_.group_of(r));
    std::printf("memory: %4d  %12.1f  %8lld  %13.1f  (%.1f + %.1f)  %8d\n", r, act / 1024.0, n,
                (p.activations + p.extra_versions) / 1024.0, p.activations / 1024.0,
                p.extra_versions / 1024.0, p.weight_versions);
  }
  std::fflush(stdout);
}

// A stage file's weights and optimizer state: param<i> and optimizer.
void write_weights(torch::serialize::OutputArchive& ar, const std::vector<torch::Tensor>& weights,
                   torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive state;
  for (std::size_t i = 0; i < weights.size(); ++i) ar.write("param" + std::to_string(i), weights[i].detach());
  opt.save(state);
  ar.write("optimizer", state);
}

void read_weights(torch::serialize::InputArchive& ar, const std::string& path,
                  std::vector<torch::Tensor>& weights, torch::optim::Optimizer& opt) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    torch::Tensor t;
    ar.read("param" + std::to_string(i), t);
    if (!t.sizes().equals(weights[i].sizes()))
      throw std::runtime_error(fmt::format("checkpoint {}: parameter {} has shape {}, the model's is {}",
                                           path, i, fmt::join(t.sizes(), "x"),
                                           fmt::join(weights[i].sizes(), "x")));
    weights[i].copy_(t);
  }
  torch::serialize::InputArchive state;
  ar.read("optimizer", state);
  opt.load(state);
}

// Written to a temporary name and renamed: a stage file is whole or absent.
void save_atomically(torch::serialize::OutputArchive& ar, const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ar.save_to(path + ".tmp");
  if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename the checkpoint file " + path + ".tmp");
}

void RankRunner::save_checkpoint(int step) {
  for (auto& s : stages_) {
    if (replica_ != 0) break;  // replicas hold identical weights
    torch::serialize::OutputArchive ar;
    write_weights(ar, s.params, *s.opt);
    save_atomically(ar, checkpoint_stage_file(c_, step, s.stage));
  }
  pg_->barrier()->wait(timeout());  // every stage file is in place before the manifest names the checkpoint
  if (id_.rank == 0) write_checkpoint_manifest(c_, step);
}

void RankRunner::load_checkpoint(int step) {
  for (auto& s : stages_) {
    const std::string path = checkpoint_stage_file(c_, step, s.stage);
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    read_weights(ar, path, s.params, *s.opt);
  }
}

// Asynchronous: this rank's state at its cut after `minibatch` (see
// checkpoint.h). Every replica writes: their weights agree, but each holds
// its own micro-batches in flight.
void RankRunner::save_stream_checkpoint(int minibatch) {
  for (auto& s : stages_) {
    torch::serialize::OutputArchive ar;
    write_weights(ar, s.master, *s.opt);
    const std::vector<std::int64_t> state = {s.updates, s.forwards,
                                             static_cast<std::int64_t>(s.max_versions)};
    ar.write("state", torch::tensor(state, torch::kInt64));
    std::vector<std::int64_t> ids, flying;
    for (auto& [v, w] : s.versions) {
      ids.push_back(v);
      for (std::size_t i = 0; i < w.size(); ++i) ar.write(fmt::format("version{}.{}", v, i), w[i]);
    }
    ar.write("versions", torch::tensor(ids, torch::kInt64));
    for (auto& [mb, v] : s.mb_version) {
      flying.insert(flying.end(), {mb, v});
      ar.write("input" + std::to_string(mb), s.input.at(mb).detach());
    }
    ar.write("in_flight", torch::tensor(flying, torch::kInt64));
    std::vector<double> losses;
    if (s.last)
      for (auto& [mb, l] : mb_loss_) losses.insert(losses.end(), {static_cast<double>(mb), l});
    ar.write("losses", torch::tensor(losses, torch::kFloat64));
    save_atomically(ar, checkpoint_stage_file(c_, minibatch, s.stage, replica_));
  }
  // No barrier mid-stream: the others say they are done and go on; rank 0
  // (stage 0 passes its cut last) names the checkpoint once all have.
  const std::string key = fmt::format("pipekit/checkpoint/{}/", minibatch);
  if (id_.rank != 0) {
    store_->set(key + std::to_string(id_.rank), std::vector<std::uint8_t>{1});
    return;
  }
  std::vector<std::string> keys;
  for (int r = 1; r < id_.world_size; ++r) keys.push_back(key + std::to_string(r));
  store_->wait(keys, timeout());
  write_checkpoint_manifest(c_, minibatch);
}

void RankRunner::load_stream_checkpoint(int minibatch, const RankCut& cut) {
  for (auto& s : stages_) {
    const std::string path = checkpoint_stage_file(c_, minibatch, s.stage, replica_);
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    read_weights(ar, path, s.master, *s.opt);
    torch::NoGradGuard no_grad;
    auto read = [&](const std::string& name) {
      torch::Tensor t;
      ar.read(name, t);
      return t;
    };
    torch::Tensor state = read("state");
    s.updates = static_cast<int>(state[0].item<std::int64_t>());
    s.forwards = static_cast<int>(state[1].item<std::int64_t>());
    s.max_versions = static_cast<std::size_t>(state[2].item<std::int64_t>());
    s.versions.clear();
    torch::Tensor ids = read("versions");
    for (std::int64_t k = 0; k < ids.numel(); ++k) {
      const int v = static_cast<int>(ids[k].item<std::int64_t>());
      std::vector<torch::Tensor> w;
      for (std::size_t i = 0; i < s.params.size(); ++i)
        w.push_back(to_dev(read(fmt::format("version{}.{}", v, i))));
      s.versions[v] = std::move(w);
    }
    s.loaded = -1;  // the layers hold build()'s weights: load the version the next action needs
    torch::Tensor flying = read("in_flight");
    std::vector<int> mbs;
    for (std::int64_t k = 0; k + 1 < flying.numel(); k += 2) {
      const int mb = static_cast<int>(flying[k].item<std::int64_t>());
      s.mb_version[mb] = static_cast<int>(flying[k + 1].item<std::int64_t>());
      s.input[mb] = to_dev(read("input" + std::to_string(mb)));
      mbs.push_back(mb);
    }
    if (mbs != cut.in_flight)
      throw std::runtime_error(fmt::format(
          "checkpoint {}: micro-batches {} are in flight, but this schedule's cut after minibatch {} has {}",
          path, fmt::join(mbs, ","), minibatch, fmt::join(cut.in_flight, ",")));
    torch::Tensor losses = read("losses");
    for (std::int64_t k = 0; k + 1 < losses.numel(); k += 2)
      mb_loss_[static_cast<int>(losses[k].item<double>())] = losses[k + 1].item<double>();
  }
}

// This replica's part of the cut after `minibatches`: with replicas dealt
// round-robin, the micro-batches (and their messages) it owns.
RankCut RankRunner::my_cut(int minibatches) const {
  RankCut cut = stream_cut(c_.schedule, minibatches * c_.minibatch_mbs).at(prank_);
  const int r = my_replicas();
  if (r <= 1) return cut;
  auto other = [&](int mb) { return mb % r != replica_; };
  std::erase_if(cut.in_flight, other);
  std::erase_if(cut.repost, [&](const Action& a) { return other(a.microbatch); });
  std::erase_if(cut.resend, [&](const Action& a) { return other(a.microbatch); });
  return cut;
}

// Rebuilds what the cut left in flight: the graphs of micro-batches whose
// forward ran before it (recomputed with the weight version that forward
// used, as R would), receives posted before it, and activations the next
// stage had not taken yet.
void RankRunner::resume_stream(const RankCut& cut) {
  for (auto& s : stages_)
    for (int mb : cut.in_flight) {
      if (!s.first) s.input.at(mb).requires_grad_(true);
      recompute(s, mb, 0);
    }
  for (const Action& a : cut.repost) execute(a, 0);
  for (const Action& a : cut.resend) execute(a, 0);
}

int RankRunner::verify() {
  // Every rank ships its final stage parameters to rank 0, which trains the
  // unsplit model in-process and compares stage by stage.
  if (id_.rank != 0) {
    if (replica_ != 0) return 0;  // replicas take identical steps; replica 0 speaks for them
    for (auto& s : stages_) {
      std::vector<torch::Tensor> buf = {to_host(flat_params(s.layers))};
      pg_->send(buf, 0, kParamTag + s.stage)->wait(timeout());
    }
    return 0;
  }
  ReferenceResult ref = reference_train(c_);
  bool ok = true;
  for (int s = 0; s < num_stages_; ++s) {
    torch::Tensor got;
    if (is_local(s)) {
      got = to_host(flat_params(local(s).layers));
    } else {
      std::vector<torch::Tensor> buf = {torch::empty_like(ref.stage_params[s])};
      pg_->recv(buf, layout_.rank(c_.schedule.stage_to_rank[s], 0), kParamTag + s)->wait(timeout());
      got = buf[0];
    }
    const double diff = (got - ref.stage_params[s]).abs().max().item<double>();
    const double scale = ref.stage_params[s].abs().max().item<double>();
    const bool pass = diff <= c_.verify_tolerance * std::max(scale, 1e-30);
    ok = ok && pass;
    std::printf("verify: stage %d (rank %d) max |param diff| %.3g, max |param| %.3g, relative %.3g  %s\n", s,
                layout_.rank(c_.schedule.stage_to_rank[s], 0), diff, scale, diff / std::max(scale, 1e-30),
                pass ? "ok" : "MISMATCH");
  }
  std::printf("verify: reference losses");
  for (double l : ref.losses) std::printf(" %.6f", l);
  std::printf("\nverify: %s (tolerance %.1g relative)\n",
              ok ? "pipeline equals one-process training" : "FAILED", c_.verify_tolerance);
  std::fflush(stdout);
  return ok ? 0 : 3;
}

int RankRunner::run() {
  // Test hook: lets the launcher's failure handling be tested with a real rank
  // (before the rendezvous, so the other ranks are still waiting, not failing).
  if (const char* f = std::getenv("PIPEKIT_FAIL_RANK"); f && std::atoi(f) == id_.rank) {
    std::fprintf(stderr, "pipekit: rank %d failing on purpose (PIPEKIT_FAIL_RANK)\n", id_.rank);
    return 7;
  }
  connect();
  build();
  const auto& mine = c_.schedule.actions.at(prank_);
  // Asynchronous replicas: micro-batch g belongs to replica g mod r; a pipedream
  // STEP to the replica whose B it follows, a 2bw STEP (one per minibatch) to all.
  if (c_.async && my_replicas() > 1)
    owners_ = round_robin_owners(mine, my_replicas(), c_.schedule.kind == "pipedream");
  std::ofstream metrics;
  if (id_.rank == 0 && !c_.metrics_path.empty()) {
    metrics.open(c_.metrics_path);
    if (!metrics) throw std::runtime_error("cannot write --metrics file " + c_.metrics_path);
  }
  const bool has_last = is_local(num_stages_ - 1);
  double total_ms = 0;
  // Test hook: PIPEKIT_KILL_RANK=R PIPEKIT_KILL_AT_STEP=K makes rank R SIGKILL
  // itself halfway through its actions of step K (asynchronous: of the stream).
  std::size_t kill_at_step = 0, kill_at = static_cast<std::size_t>(-1);
  if (const char* k = std::getenv("PIPEKIT_KILL_RANK"); k && std::atoi(k) == id_.rank) {
    const char* st = std::getenv("PIPEKIT_KILL_AT_STEP");
    kill_at_step = st ? static_cast<std::size_t>(std::max(1, std::atoi(st))) : 1;
  }
  // An asynchronous schedule is one stream covering all minibatches. A rank
  // has finished minibatch K where its cut after K lies, and writes the
  // checkpoint of K there.
  const int passes = c_.async ? 1 : c_.steps;
  if (c_.async) {
    const auto ends = minibatch_ends(c_.schedule, prank_, c_.minibatch_mbs);
    for (std::size_t k = 1; k <= ends.size(); ++k) {
      done_at_[ends[k - 1]] = static_cast<int>(k);
      if (static_cast<int>(k) > c_.start_step && c_.checkpoint_after(static_cast<int>(k)))
        save_at_[ends[k - 1]] = static_cast<int>(k);
    }
  }
  std::size_t begin = 0;
  RankCut resume_cut;
  if (c_.start_step > 0) {
    if (c_.async) {
      resume_cut = my_cut(c_.start_step);
      load_stream_checkpoint(c_.start_step, resume_cut);
      begin = resume_cut.position;
    } else {
      load_checkpoint(c_.start_step);
    }
    if (id_.rank == 0)
      std::printf("resumed from %s after step %d\n", c_.checkpoint_dir.c_str(), c_.start_step);
  }
  for (int step = c_.async ? 0 : c_.start_step; step < passes; ++step) {
    recording_ = !c_.timeline_path.empty() && step == passes - 1;
    kill_at =
        static_cast<std::size_t>(step + 1) == kill_at_step ? mine.size() / 2 : static_cast<std::size_t>(-1);
    if (c_.async && kill_at_step > 0) {  // halfway through minibatch K of the stream
      std::size_t lo = 0, hi = mine.size();
      for (auto& [pos, k] : done_at_) {
        if (static_cast<std::size_t>(k) + 1 == kill_at_step) lo = pos;
        if (static_cast<std::size_t>(k) == kill_at_step) hi = pos;
      }
      kill_at = (lo + hi) / 2;
    }
    events_.clear();
    memory_.clear();
    if (!c_.async) mb_loss_.clear();  // a resumed stream keeps the losses its checkpoint held
    tied_done_ = false;
    for (auto& s : stages_) {
      s.opt->zero_grad();
      // Asynchronous: gradients exist before the stream starts, so the step's
      // memory delta is activations and weight versions only.
      if (c_.async)
        for (std::size_t i = 0; i < s.params.size(); ++i) {
          s.params[i].mutable_grad() = torch::zeros_like(s.params[i]);
          s.master[i].mutable_grad() = torch::zeros_like(s.master[i]);
        }
    }
    // Once, before the stream (an asynchronous run makes one pass); a resumed
    // stream got its optimizer state and weight versions from the checkpoint.
    if (c_.async && c_.start_step == 0) prefault_stream_memory();
    pg_->barrier()->wait(timeout());
    // Sampled before the clock starts: reading them costs time and pages.
    step_faults_ = minor_page_faults();
    step_other_cpu_.reset();
    if (c_.threads == 1 && !cuda_) step_other_cpu_ = other_threads_cpu_ns();
    t0_ = Clock::now();
    step_base_bytes_ = memory_meter::live_bytes();
    memory_meter::reset_peak();
    sample_memory();
    if (c_.async && c_.start_step > 0) resume_stream(resume_cut);
    int finished = c_.async ? c_.start_step : step;  // steps (minibatches) this rank has finished
    for (std::size_t i = begin; i < mine.size(); ++i) {
      if (i == kill_at) {
        std::fprintf(stderr, "pipekit: rank %d killing itself mid-step %d (PIPEKIT_KILL_RANK)\n", id_.rank,
                     finished + 1);
        std::fflush(stderr);
        raise(SIGKILL);
      }
      try {
        if (runs_here(i)) execute(mine[i], step);
      } catch (const std::exception& e) {
        // Gloo/store failures: say where, and which rank we were waiting on.
        const Action& a = mine[i];
        std::string peer;
        if (a.type == ActionType::RECV_F || a.type == ActionType::SEND_B || a.type == ActionType::RECV_B ||
            a.type == ActionType::SEND_F || a.type == ActionType::F || a.type == ActionType::B ||
            a.type == ActionType::I) {
          const bool down = a.type == ActionType::RECV_B || a.type == ActionType::SEND_F ||
                            a.type == ActionType::B || a.type == ActionType::I;
          const int other = a.stage + (down ? 1 : -1);
          if (other >= 0 && other < num_stages_ && !is_local(other)) {
            std::vector<int> ranks;
            for (const RowPart& part : exchange(other, a.microbatch)) ranks.push_back(part.rank);
            peer = ranks.size() == 1 ? fmt::format(", exchanging with rank {}", ranks[0])
                                     : fmt::format(", exchanging with ranks {}", fmt::join(ranks, ", "));
          }
        }
        throw std::runtime_error(fmt::format("rank {}: {} of step {} failed{} (last completed step {}): {}",
                                             id_.rank, to_string(a), finished + 1, peer, finished,
                                             short_what(e)));
      }
      if (auto it = done_at_.find(i + 1); it != done_at_.end() && it->second < c_.steps) {
        finished = it->second;
        write_progress(finished);
      }
      if (auto it = save_at_.find(i + 1); it != save_at_.end()) try {
          save_stream_checkpoint(it->second);
        } catch (const std::exception& e) {
          throw std::runtime_error(fmt::format("rank {}: writing the checkpoint after step {} failed: {}",
                                               id_.rank, it->second, short_what(e)));
        }
    }
    finish_step();
    write_progress(c_.async ? c_.steps : step + 1);
    const double step_ms = now_ms();
    step_faults_ = minor_page_faults() - step_faults_;
    step_other_cpu_ms_.reset();
    if (step_other_cpu_)
      if (auto now = other_threads_cpu_ns()) step_other_cpu_ms_ = cpu_ms_since(*step_other_cpu_, *now);
    step_spans_.push_back(
        {std::chrono::duration_cast<std::chrono::nanoseconds>(t0_.time_since_epoch()).count(), step_ms});
    std::int64_t peak_act = memory_meter::peak_bytes() - step_base_bytes_;
    // Adam's moments appear at the first STEP of the one stream (a resumed
    // stream loaded them before it started).
    if (c_.async && c_.optimizer == "adam" && c_.start_step == 0)
      for (auto& s : stages_) peak_act -= 2 * param_bytes(s);
    if (c_.predict_memory) report_memory(step, peak_act);
    sample_memory();
    std::vector<double> losses = has_last ? step_losses() : std::vector<double>{};
    if (has_last && my_replicas() > 1) {  // the sum of the replicas' shares
      std::vector<torch::Tensor> buf = {torch::tensor(losses, torch::kFloat64)};
      stage_pg_->allreduce(buf)->wait(timeout());
      for (std::size_t k = 0; k < losses.size(); ++k) losses[k] = buf[0][k].item<double>();
    }
    if (has_last && id_.rank != 0 && replica_ == 0) {
      std::string v;
      for (double l : losses) v += fmt::format("{:.9g} ", l);
      store_->set("pipekit/loss/" + std::to_string(step), std::vector<std::uint8_t>(v.begin(), v.end()));
    }
    if (recording_) gather_timeline(step_ms, peak_act);
    if (!c_.async && c_.checkpoint_after(step + 1)) save_checkpoint(step + 1);
    if (c_.async && !c_.quiet)
      for (auto& s : stages_)
        std::printf(
            "weights: stage %d (rank %d) kept up to %zu weight version(s) (%.1f KiB each), %d updates\n",
            s.stage, id_.rank, s.max_versions, static_cast<double>(param_bytes(s)) / 1024.0, s.updates);
    if (id_.rank == 0) {
      if (!has_last) {
        auto v = store_->get("pipekit/loss/" + std::to_string(step));
        std::istringstream in(std::string(v.begin(), v.end()));
        for (double l; in >> l;) losses.push_back(l);
      }
      // Rank 0 measures the step from its barrier to the end of its own work,
      // and the loss arrives only after the last stage finished.
      const double all_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
      total_ms += all_ms;
      // A resumed stream prints the minibatches after its checkpoint.
      const std::size_t first = c_.async ? static_cast<std::size_t>(c_.start_step) : 0;
      const double ms = all_ms / static_cast<double>(losses.size() - first);
      const double sps = c_.batch / (ms / 1000.0);
      for (std::size_t k = first; k < losses.size(); ++k) {
        const int shown = c_.async ? static_cast<int>(k) + 1 : step + 1;
        if (!c_.quiet)
          std::printf("step %d/%d  loss %.6f  %.1f ms  %.1f samples/s  peak activations (rank 0) %.1f KiB\n",
                      shown, c_.steps, losses[k], ms, sps, static_cast<double>(peak_act) / 1024.0);
        if (metrics) {
          metrics << fmt::format(
              "{{\"step\": {}, \"loss\": {:.9g}, \"step_time_ms\": {:.3f}, \"samples_per_s\": {:.3f}, "
              "\"tokens_per_s\": {:.3f}, \"peak_activation_bytes_rank0\": {}}}\n",
              shown, losses[k], ms, sps, c_.model.input() == InputKind::tokens ? sps * c_.seq : 0.0,
              peak_act);
          metrics.flush();
        }
      }
      std::fflush(stdout);
    }
  }
  if (id_.rank == 0 && !c_.quiet) {
    const int done = c_.steps - c_.start_step;
    std::printf("done: %d steps, mean %.1f ms/step, %.1f samples/s\n", done, total_ms / done,
                c_.batch * done / (total_ms / 1000.0));
    if (!c_.timeline_path.empty()) std::printf("timeline: %s\n", c_.timeline_path.c_str());
    if (!c_.metrics_path.empty()) std::printf("metrics: %s\n", c_.metrics_path.c_str());
  }
  if (c_.async) {  // the layers end with the newest weights
    torch::NoGradGuard no_grad;
    for (auto& s : stages_)
      for (std::size_t i = 0; i < s.params.size(); ++i) s.params[i].variable_data().copy_(s.master[i]);
  }
  int status = c_.verify ? verify() : 0;
  pg_->barrier()->wait(timeout());  // keep the store (rank 0) up until everyone is done
  return status;
}

}  // namespace

int run_rank(const RunConfig& c, const RankIdentity& id) {
  memory_meter::install();
  set_compute_threads(c.threads);
  keep_host_memory();
  RankRunner r(c, id);
  return r.run();
}

}  // namespace pipekit
