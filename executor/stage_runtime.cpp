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
//   STEP  optimizer step of that stage (after summing tied gradients).
// Tags are (boundary stage, micro-batch, direction), so messages never mix.
// Stages on the same rank hand tensors over directly.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "core/formats.h"
#include "executor/batch_source.h"
#include "executor/memory_meter.h"
#include "executor/model_layers.h"
#include "executor/reference_training.h"
#include "executor/run_config.h"

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
  // gpt tie_weights: this stage's copy of the shared table (embedding in the
  // first stage, head in the last; one stage may hold both).
  torch::Tensor tied_embed, tied_head;
};

std::int64_t tensor_bytes(const torch::Tensor& t) {
  return t.defined() ? static_cast<std::int64_t>(t.numel() * t.element_size()) : 0;
}

class RankRunner {
 public:
  RankRunner(const RunConfig& c, const RankIdentity& id) : c_(c), id_(id), data_(c.model, c.data, c.batch, c.seq, c.schedule.num_microbatches, c.seed) {}

  int run();

 private:
  void connect();
  void build();
  double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count(); }
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(static_cast<std::int64_t>(c_.timeout_s * 1000));
  }
  LocalStage& local(int stage);
  bool is_local(int stage) const { return stage >= 0 && stage < num_stages_ && c_.schedule.stage_to_rank[stage] == id_.rank; }
  int tag(int boundary, int mb, int dir) const { return (boundary * mbs_ + mb) * 2 + dir; }
  void execute(const Action& a, int step);
  void forward(LocalStage& s, int mb, int step);
  void recompute(LocalStage& s, int mb, int step);
  void backward(LocalStage& s, int mb);
  void post_send(const Action& a, torch::Tensor t, int peer, int tag);
  void post_recv(const Action& a, std::vector<std::int64_t> shape, int peer, int tag);
  torch::Tensor take_recv(int stage, int mb, ActionType type);
  void poll_sends();
  void finish_step();
  void sum_tied_grads();
  void record(const Action& a, double start);
  void sample_memory();
  void gather_timeline(double step_ms, std::int64_t peak_act);
  int verify();

  const RunConfig& c_;
  RankIdentity id_;
  BatchSource data_;
  int num_stages_ = 0, mbs_ = 0;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
  std::vector<LocalStage> stages_;
  std::vector<std::vector<std::int64_t>> layer_shapes_;
  std::vector<Pending> sends_;
  std::map<std::tuple<int, int, int>, Pending> recvs_;  // (stage, mb, type)
  Clock::time_point t0_;
  bool recording_ = false;
  bool tied_done_ = false;
  double loss_sum_ = 0;
  std::int64_t step_base_bytes_ = 0;
  std::vector<TimelineEvent> events_;
  std::vector<MemorySample> memory_;
};

LocalStage& RankRunner::local(int stage) {
  for (auto& s : stages_)
    if (s.stage == stage) return s;
  throw std::runtime_error(fmt::format("rank {} runs an action of stage {}, which the schedule places on rank {}",
                                       id_.rank, stage, c_.schedule.stage_to_rank.at(stage)));
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
}

void RankRunner::build() {
  const Schedule& sch = c_.schedule;
  num_stages_ = sch.num_stages;
  mbs_ = sch.num_microbatches;
  const std::int64_t mb_rows = c_.batch / mbs_;
  layer_shapes_ = layer_output_shapes(c_.model, mb_rows, c_.seq, c_.seed);
  for (int s = 0; s < num_stages_; ++s) {
    if (sch.stage_to_rank[s] != id_.rank) continue;
    LocalStage st;
    st.stage = s;
    st.first = s == 0;
    st.last = s == num_stages_ - 1;
    for (const Action& a : sch.actions[id_.rank])
      if (a.stage == s && a.type == ActionType::R) st.recompute = true;
    const auto& layers = c_.stage_layers[s];
    st.layers = build_layers(c_.model, layers, c_.seed);
    for (auto& l : st.layers) {
      for (auto& p : l.params) st.params.push_back(p);
      if (l.tied_weight.defined()) (l.tied_slot ? st.tied_head : st.tied_embed) = l.tied_weight;
    }
    st.opt = make_optimizer(c_.optimizer, st.params, c_.lr);
    if (!st.first) st.in_shape = layer_shapes_.at(layers.front() - 1);
    st.out_shape = layer_shapes_.at(layers.back());
    stages_.push_back(std::move(st));
  }
}

void RankRunner::record(const Action& a, double start) {
  if (!recording_) return;
  TimelineEvent e;
  e.rank = id_.rank;
  e.stream = Stream::compute;
  e.action = a;
  e.start_ms = start;
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

void RankRunner::post_send(const Action& a, torch::Tensor t, int peer, int tg) {
  Pending p;
  p.bufs = {t.detach().contiguous()};
  p.event.rank = id_.rank;
  p.event.stream = Stream::send;
  p.event.action = a;
  p.event.peer = peer;
  p.event.bytes = tensor_bytes(p.bufs[0]);
  p.event.start_ms = now_ms();
  p.work = pg_->send(p.bufs, peer, tg);
  sends_.push_back(std::move(p));
}

void RankRunner::post_recv(const Action& a, std::vector<std::int64_t> shape, int peer, int tg) {
  Pending p;
  p.bufs = {torch::empty(shape)};
  p.event.rank = id_.rank;
  p.event.stream = Stream::recv;
  p.event.action = a;
  p.event.peer = peer;
  p.event.bytes = tensor_bytes(p.bufs[0]);
  p.event.start_ms = now_ms();
  p.work = pg_->recv(p.bufs, peer, tg);
  auto key = std::make_tuple(a.stage, a.microbatch, static_cast<int>(a.type));
  if (recvs_.count(key))
    throw std::runtime_error(fmt::format("rank {}: {} posted twice in one step", id_.rank, to_string(a)));
  recvs_.emplace(key, std::move(p));
}

torch::Tensor RankRunner::take_recv(int stage, int mb, ActionType type) {
  auto it = recvs_.find(std::make_tuple(stage, mb, static_cast<int>(type)));
  if (it == recvs_.end())
    throw std::runtime_error(fmt::format("rank {}: the schedule needs {} before using it, but it was not posted",
                                         id_.rank, to_string(Action{stage, type, mb})));
  Pending p = std::move(it->second);
  recvs_.erase(it);
  p.work->wait(timeout());
  p.event.end_ms = now_ms();
  if (recording_) events_.push_back(p.event);
  return p.bufs[0];
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
    in = input_tensor(data_.get(step, mb));
  } else if (is_local(s.stage - 1)) {
    auto& prev = local(s.stage - 1);
    in = prev.output.at(mb).detach().requires_grad_(true);
    if (prev.recompute) prev.output.erase(mb);  // R rebuilds it; keep only the input meanwhile
  } else {
    in = take_recv(s.stage, mb, ActionType::RECV_F).requires_grad_(true);
  }
  const double start = now_ms();
  torch::Tensor out;
  {
    std::optional<torch::NoGradGuard> no_grad;
    if (s.recompute) no_grad.emplace();
    out = forward_layers(s.layers, in);
    if (s.last) {
      out = scaled_loss(out, target_tensor(data_.get(step, mb)), mbs_);
      loss_sum_ += out.item<double>();
    }
  }
  s.input[mb] = in;
  s.output[mb] = out;
  record(Action{s.stage, ActionType::F, mb}, start);
}

void RankRunner::recompute(LocalStage& s, int mb, int step) {
  const double start = now_ms();
  auto& in = s.input.at(mb);
  torch::Tensor out = forward_layers(s.layers, in);
  if (s.last) out = scaled_loss(out, target_tensor(data_.get(step, mb)), mbs_);
  s.output[mb] = out;
  record(Action{s.stage, ActionType::R, mb}, start);
}

void RankRunner::backward(LocalStage& s, int mb) {
  torch::Tensor out = s.output.at(mb);
  torch::Tensor grad;
  if (!s.last) {
    if (is_local(s.stage + 1)) {
      auto& next = local(s.stage + 1);
      grad = next.grad_in.at(mb);
      next.grad_in.erase(mb);
    } else {
      grad = take_recv(s.stage, mb, ActionType::RECV_B);
    }
  }
  const double start = now_ms();
  if (!out.requires_grad())
    throw std::runtime_error(fmt::format("rank {}: B of stage {} micro-batch {} has no autograd graph "
                                         "(the schedule recomputes this stage but has no R before B)",
                                         id_.rank, s.stage, mb));
  if (s.last)
    out.backward();
  else
    out.backward(grad);
  if (!s.first) s.grad_in[mb] = s.input.at(mb).grad();
  s.input.erase(mb);
  s.output.erase(mb);
  record(Action{s.stage, ActionType::B, mb}, start);
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
  const int peer = c_.schedule.stage_to_rank[is_local(0) ? last : 0];
  std::vector<torch::Tensor> out = {mine.grad().clone()};
  std::vector<torch::Tensor> in = {torch::empty_like(mine)};
  auto sw = pg_->send(out, peer, kTiedTag);
  auto rw = pg_->recv(in, peer, kTiedTag);
  rw->wait(timeout());
  sw->wait(timeout());
  mine.mutable_grad().add_(in[0]);
}

void RankRunner::execute(const Action& a, int step) {
  const Schedule& sch = c_.schedule;
  switch (a.type) {
    case ActionType::F: forward(local(a.stage), a.microbatch, step); break;
    case ActionType::R: recompute(local(a.stage), a.microbatch, step); break;
    case ActionType::B: backward(local(a.stage), a.microbatch); break;
    case ActionType::SEND_F: {
      if (is_local(a.stage + 1)) break;  // same rank: handed over directly
      auto& s = local(a.stage);
      post_send(a, s.output.at(a.microbatch), sch.stage_to_rank.at(a.stage + 1), tag(a.stage, a.microbatch, 0));
      if (s.recompute) s.output.erase(a.microbatch);  // the send holds it until done; R rebuilds it
      break;
    }
    case ActionType::SEND_B: {
      if (is_local(a.stage - 1)) break;
      auto& s = local(a.stage);
      torch::Tensor g = s.grad_in.at(a.microbatch);
      s.grad_in.erase(a.microbatch);
      post_send(a, g, sch.stage_to_rank.at(a.stage - 1), tag(a.stage - 1, a.microbatch, 1));
      break;
    }
    case ActionType::RECV_F:
      if (is_local(a.stage - 1)) break;
      post_recv(a, local(a.stage).in_shape, sch.stage_to_rank.at(a.stage - 1), tag(a.stage - 1, a.microbatch, 0));
      break;
    case ActionType::RECV_B:
      if (is_local(a.stage + 1)) break;
      post_recv(a, local(a.stage).out_shape, sch.stage_to_rank.at(a.stage + 1), tag(a.stage, a.microbatch, 1));
      break;
    case ActionType::STEP: {
      const double start = now_ms();
      auto& s = local(a.stage);
      if (s.tied_embed.defined() || s.tied_head.defined()) sum_tied_grads();
      s.opt->step();
      record(a, start);
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
    throw std::runtime_error(fmt::format("rank {}: the step ended with {} receive(s) never used", id_.rank, recvs_.size()));
  for (auto& s : stages_)
    if (!s.input.empty() || !s.grad_in.empty())
      throw std::runtime_error(fmt::format("rank {}: the step ended with micro-batches of stage {} left without backward",
                                           id_.rank, s.stage));
}

void RankRunner::gather_timeline(double step_ms, std::int64_t peak_act) {
  Timeline t;
  t.source = "measured";
  t.schedule = c_.schedule.kind;
  t.num_ranks = c_.schedule.num_ranks;
  t.num_stages = c_.schedule.num_stages;
  t.num_microbatches = c_.schedule.num_microbatches;
  t.virtual_stages = std::max(1, c_.schedule.virtual_stages());
  t.step_time_ms = step_ms;
  t.events = events_;
  t.memory = memory_;
  t.meta["peak_activation_bytes.rank" + std::to_string(id_.rank)] = std::to_string(peak_act);
  if (id_.rank != 0) {
    const std::string js = timeline_to_json(t);
    store_->set("pipekit/timeline/" + std::to_string(id_.rank), std::vector<std::uint8_t>(js.begin(), js.end()));
    return;
  }
  for (int r = 1; r < id_.world_size; ++r) {
    auto bytes = store_->get("pipekit/timeline/" + std::to_string(r));
    Timeline o = timeline_from_json(std::string(bytes.begin(), bytes.end()), "rank " + std::to_string(r));
    t.events.insert(t.events.end(), o.events.begin(), o.events.end());
    t.memory.insert(t.memory.end(), o.memory.begin(), o.memory.end());
    t.step_time_ms = std::max(t.step_time_ms, o.step_time_ms);
    for (auto& [k, v] : o.meta) t.meta[k] = v;
  }
  t.meta["model"] = c_.model.name;
  t.meta["method"] = "activation bytes = live CPU tensor bytes minus those live at step start (counting allocator)";
  write_text_file(c_.timeline_path, timeline_to_json(t));
}

int RankRunner::verify() {
  // Every rank ships its final stage parameters to rank 0, which trains the
  // unsplit model in-process and compares stage by stage.
  if (id_.rank != 0) {
    for (auto& s : stages_) {
      std::vector<torch::Tensor> buf = {flat_params(s.layers)};
      pg_->send(buf, 0, kParamTag + s.stage)->wait(timeout());
    }
    return 0;
  }
  ReferenceResult ref = reference_train(c_);
  bool ok = true;
  for (int s = 0; s < num_stages_; ++s) {
    torch::Tensor got;
    if (is_local(s)) {
      got = flat_params(local(s).layers);
    } else {
      std::vector<torch::Tensor> buf = {torch::empty_like(ref.stage_params[s])};
      pg_->recv(buf, c_.schedule.stage_to_rank[s], kParamTag + s)->wait(timeout());
      got = buf[0];
    }
    const double diff = (got - ref.stage_params[s]).abs().max().item<double>();
    const double scale = ref.stage_params[s].abs().max().item<double>();
    const bool pass = diff <= c_.verify_tolerance * std::max(scale, 1e-30);
    ok = ok && pass;
    std::printf("verify: stage %d (rank %d) max |param diff| %.3g, max |param| %.3g, relative %.3g  %s\n", s,
                c_.schedule.stage_to_rank[s], diff, scale, diff / std::max(scale, 1e-30), pass ? "ok" : "MISMATCH");
  }
  std::printf("verify: reference losses");
  for (double l : ref.losses) std::printf(" %.6f", l);
  std::printf("\nverify: %s (tolerance %.1g relative)\n", ok ? "pipeline equals one-process training" : "FAILED",
              c_.verify_tolerance);
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
  const auto& mine = c_.schedule.actions.at(id_.rank);
  std::ofstream metrics;
  if (id_.rank == 0 && !c_.metrics_path.empty()) {
    metrics.open(c_.metrics_path);
    if (!metrics) throw std::runtime_error("cannot write --metrics file " + c_.metrics_path);
  }
  const bool has_last = is_local(num_stages_ - 1);
  double total_ms = 0;
  for (int step = 0; step < c_.steps; ++step) {
    recording_ = !c_.timeline_path.empty() && step == c_.steps - 1;
    events_.clear();
    memory_.clear();
    loss_sum_ = 0;
    tied_done_ = false;
    for (auto& s : stages_) s.opt->zero_grad();
    pg_->barrier()->wait(timeout());
    t0_ = Clock::now();
    step_base_bytes_ = memory_meter::live_bytes();
    memory_meter::reset_peak();
    sample_memory();
    for (const Action& a : mine) execute(a, step);
    finish_step();
    const double step_ms = now_ms();
    const std::int64_t peak_act = memory_meter::peak_bytes() - step_base_bytes_;
    sample_memory();
    if (has_last && id_.rank != 0)
    {
      const std::string v = fmt::format("{:.9g}", loss_sum_);
      store_->set("pipekit/loss/" + std::to_string(step), std::vector<std::uint8_t>(v.begin(), v.end()));
    }
    if (recording_) gather_timeline(step_ms, peak_act);
    if (id_.rank == 0) {
      double loss = loss_sum_;
      if (!has_last) {
        auto v = store_->get("pipekit/loss/" + std::to_string(step));
        loss = std::stod(std::string(v.begin(), v.end()));
      }
      // Rank 0 measures the step from its barrier to the end of its own work,
      // and the loss arrives only after the last stage finished.
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
      total_ms += ms;
      const double sps = c_.batch / (ms / 1000.0);
      if (!c_.quiet)
        std::printf("step %d/%d  loss %.6f  %.1f ms  %.1f samples/s  peak activations (rank 0) %.1f KiB\n", step + 1,
                    c_.steps, loss, ms, sps, static_cast<double>(peak_act) / 1024.0);
      std::fflush(stdout);
      if (metrics) {
        metrics << fmt::format(
            "{{\"step\": {}, \"loss\": {:.9g}, \"step_time_ms\": {:.3f}, \"samples_per_s\": {:.3f}, "
            "\"tokens_per_s\": {:.3f}, \"peak_activation_bytes_rank0\": {}}}\n",
            step + 1, loss, ms, sps, c_.model.input() == InputKind::tokens ? sps * c_.seq : 0.0, peak_act);
        metrics.flush();
      }
    }
  }
  if (id_.rank == 0 && !c_.quiet) {
    std::printf("done: %d steps, mean %.1f ms/step, %.1f samples/s\n", c_.steps, total_ms / c_.steps,
                c_.batch * c_.steps / (total_ms / 1000.0));
    if (!c_.timeline_path.empty()) std::printf("timeline: %s\n", c_.timeline_path.c_str());
    if (!c_.metrics_path.empty()) std::printf("metrics: %s\n", c_.metrics_path.c_str());
  }
  int status = c_.verify ? verify() : 0;
  pg_->barrier()->wait(timeout());  // keep the store (rank 0) up until everyone is done
  return status;
}

}  // namespace

int run_rank(const RunConfig& c, const RankIdentity& id) {
  memory_meter::install();
  at::set_num_threads(std::max(1, c.threads));
  RankRunner r(c, id);
  return r.run();
}

}  // namespace pipekit
