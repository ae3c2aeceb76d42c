#include "executor/rank_transport.h"

#if PIPEKIT_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#include "executor/memory_meter.h"
#include "executor/model_layers.h"
#include "passes/schedule_validator.h"

namespace pipekit {

RankTransport::RankTransport(const RunConfig& c, const RankIdentity& id, const ReplicaLayout& layout)
    : c_(c),
      id_(id),
      layout_(layout),
      prank_(layout.group_of(id.rank)),
      replica_(layout.replica_of(id.rank)),
      mbs_(c.schedule.num_microbatches),
      mb_rows_(c.batch / c.minibatch_mbs),
      boundary_(working_dtype(c.precision)) {}

std::chrono::milliseconds RankTransport::timeout() const {
  return std::chrono::milliseconds(static_cast<std::int64_t>(c_.timeout_s * 1000));
}

void RankTransport::connect() {
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
  world_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, id_.rank, id_.world_size, opts);
  if (my_replicas() > 1) {
    // One group per pipeline rank: its replicas, which all-reduce gradients.
    auto prefix =
        c10::make_intrusive<c10d::PrefixStore>("pipekit/replicas/" + std::to_string(prank_), store_);
    replicas_ = c10::make_intrusive<c10d::ProcessGroupGloo>(prefix, replica_, my_replicas(), opts);
  }
  choose_device_and_transport();
}

// Why NCCL cannot carry this schedule's boundary tensors; empty when it can.
std::string RankTransport::nccl_refusal() const {
  // NCCL matches messages in posting order; a schedule file may not keep it.
  auto bad = fifo_order_mismatches(c_.schedule);
  if (!bad.empty())
    return "; NCCL refused because the schedule's send and receive orders differ (" + bad[0] + ")";
  // Each channel's pair communicators must carry one direction only, or sends
  // crossing on one NCCL stream can wait on each other forever: that happens
  // when activations also flow from a higher rank to a lower one (interleaved
  // wrapping around, zbv folding back), or gradients upward.
  const auto& place = c_.schedule.stage_to_rank;
  for (int s = 0; s + 1 < c_.schedule.num_stages; ++s)
    if (place[s] > place[s + 1])
      return fmt::format(
          "; NCCL not used: activations flow both ways between ranks (stage {} on rank {} feeds stage {} on "
          "rank {}), which one channel per direction cannot carry without deadlock",
          s, place[s], s + 1, place[s + 1]);
  return "";
}

void RankTransport::choose_device_and_transport() {
  int gpu = -1;
  if (c_.device == "cuda") {
    gpu = cuda_device_for_local_rank(id_.local_rank);
    if (gpu < 0)
      throw std::runtime_error(
          fmt::format("rank {}: --device cuda, but LibTorch sees no CUDA device on this host", id_.rank));
    dev_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu));
    cuda_ = true;
#if PIPEKIT_TORCH_CUDA
    // The rank's current device: cuBLAS handles, streams and events follow it.
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(gpu));
#endif
    memory_meter::use_cuda(gpu);
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // Ranks on one physical GPU have the same identity (its UUID) even when
  // each sees it under another index.
  device_key_ =
      format_device_id(DeviceId{gpu, gpu < 0 ? std::string("cpu") : cuda_device_identity(gpu), host});
  // One booted kernel has one CLOCK_MONOTONIC (steady_clock), so its boot id
  // names the clock; the timeline merge aligns the ranks that share it.
  {
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    if (!(boot >> clock_id_)) clock_id_ = host;
  }
  store_->set("pipekit/device/" + std::to_string(id_.rank),
              std::vector<std::uint8_t>(device_key_.begin(), device_key_.end()));
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
    note = nccl_refusal();
    if (!note.empty()) {
      transport_ = Transport::gloo_host_staged;
    } else {
      fwd_ = make_nccl_channel(store_, "pipekit/nccl/forward", id_.rank, id_.world_size, timeout(), gpu);
      bwd_ = make_nccl_channel(store_, "pipekit/nccl/backward", id_.rank, id_.world_size, timeout(), gpu);
    }
  }
  if (id_.rank == 0 && !c_.quiet && c_.device == "cuda")
    std::printf("%s%s\n", describe_transport(transport_, names).c_str(), note.c_str());
}

PeerChannel* RankTransport::channel(ActionType t) const {
  if (transport_ != Transport::nccl) return nullptr;
  return t == ActionType::SEND_F || t == ActionType::RECV_F ? fwd_.get() : bwd_.get();
}

int RankTransport::peer(int stage) const {
  const int g = c_.schedule.stage_to_rank.at(stage);
  return layout_.rank(g, std::min(replica_, layout_.replicas(g) - 1));
}

std::vector<RowPart> RankTransport::exchange(int stage, int mb) const {
  const int g = c_.schedule.stage_to_rank.at(stage);
  if (c_.async) {
    const int j = mb % layout_.replicas(g);
    return {RowPart{j, layout_.rank(g, j), 0, mb_rows_}};
  }
  return layout_.overlaps(prank_, replica_, g, mb_rows_);
}

RankTransport::Pending RankTransport::start_transfer(const Action& a, Stream stream, torch::Tensor buf,
                                                     int peer, RankTimeline& tl) const {
  Pending p;
  p.bufs = {std::move(buf)};
  p.event.rank = id_.rank;
  p.event.stream = stream;
  p.event.action = a;
  p.event.peer = peer;
  p.event.bytes = tensor_bytes(p.bufs[0]);
  p.event.start_ms = tl.now_ms();
  return p;
}

void RankTransport::post_send(const Action& a, const torch::Tensor& t, int stage, int tg, RankTimeline& tl) {
  PeerChannel* ch = channel(a.type);
  for (const RowPart& part : exchange(stage, a.microbatch)) {
    torch::Tensor rows = t.detach().narrow(0, part.offset, part.rows);
    Pending p =
        start_transfer(a, Stream::send, ch ? rows.contiguous() : to_host(rows).contiguous(), part.rank, tl);
    p.work = ch ? ch->send(p.bufs, part.rank, tg) : world_->send(p.bufs, part.rank, tg);
    sends_.push_back(std::move(p));
  }
}

void RankTransport::post_recv(const Action& a, std::vector<std::int64_t> shape, int stage, int tg,
                              RankTimeline& tl) {
  PeerChannel* ch = channel(a.type);
  auto key = std::make_tuple(a.stage, a.microbatch, static_cast<int>(a.type));
  if (recvs_.count(key))
    throw std::runtime_error(fmt::format("rank {}: {} posted twice in one step", id_.rank, to_string(a)));
  std::vector<Pending> parts;
  for (const RowPart& part : exchange(stage, a.microbatch)) {
    shape.at(0) = part.rows;
    Pending p = start_transfer(
        a, Stream::recv,
        torch::empty(shape, torch::TensorOptions().dtype(boundary_).device(ch ? dev_ : torch::kCPU)),
        part.rank, tl);
    p.work = ch ? ch->recv(p.bufs, part.rank, tg) : world_->recv(p.bufs, part.rank, tg);
    parts.push_back(std::move(p));
  }
  recvs_.emplace(key, std::move(parts));
}

torch::Tensor RankTransport::take_recv(int stage, int mb, ActionType type, RankTimeline& tl) {
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
    p.event.end_ms = tl.now_ms();
    tl.add(p.event);
    rows.push_back(p.bufs[0]);
  }
  return to_dev(rows.size() == 1 ? rows[0] : torch::cat(rows, 0));
}

void RankTransport::poll_sends(RankTimeline& tl) {
  for (auto& p : sends_)
    if (!p.done && p.work->isCompleted()) {
      p.done = true;
      p.event.end_ms = tl.now_ms();
    }
}

void RankTransport::end_step(RankTimeline& tl) {
  for (auto& p : sends_) {
    p.work->wait(timeout());
    if (!p.done) p.event.end_ms = tl.now_ms();
    tl.add(p.event);
  }
  sends_.clear();
  if (!recvs_.empty())
    throw std::runtime_error(
        fmt::format("rank {}: the step ended with {} receive(s) never used", id_.rank, recvs_.size()));
}

}  // namespace pipekit
