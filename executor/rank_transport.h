// How one rank reaches the others: the rendezvous store, a Gloo group over
// all ranks (and one over its own replicas), its compute device, and the
// boundary tensors of the schedule's SEND/RECV actions.
//
// Sends and receives are posted asynchronously; a send's tensor and Work stay
// alive until the step's end (wait_sends), a receive's buffer until the F/B
// that uses it (take_recv), which waits for it. Messages are tagged
// (boundary stage, micro-batch, direction), so they never mix. With replicas,
// a rank exchanges each micro-batch with every replica of the other pipeline
// rank whose rows overlap its own (flush schedules split micro-batches), or
// with the one replica the micro-batch was dealt to (asynchronous schedules
// deal them round-robin).
//
// Boundary tensors (activations and their gradients) travel in the run's
// working precision: bf16/fp16 halve the bytes of every message.
// --device cuda: ranks on distinct GPUs exchange boundary tensors over NCCL
// (one channel per direction, executor/nccl_channel.h); ranks sharing a GPU,
// and all control traffic, go through Gloo with host copies. Every rank
// publishes its host and GPU through the store, so all make the same choice.
#pragma once

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/action.h"
#include "core/timeline.h"
#include "executor/gpu_transport.h"
#include "executor/nccl_channel.h"
#include "executor/rank_timeline.h"
#include "executor/replica_layout.h"
#include "executor/run_config.h"

namespace pipekit {

class RankTransport {
 public:
  RankTransport(const RunConfig& c, const RankIdentity& id, const ReplicaLayout& layout);

  // Rendezvous, Gloo groups, the device and the transport of boundary tensors.
  void connect();

  c10d::Store& store() { return *store_; }
  c10d::ProcessGroupGloo& world() { return *world_; }
  c10d::ProcessGroupGloo& replicas() { return *replicas_; }  // only when this pipeline rank is replicated
  std::chrono::milliseconds timeout() const;

  const torch::Device& device() const { return dev_; }
  bool cuda() const { return cuda_; }
  Transport kind() const { return transport_; }
  const std::string& device_key() const { return device_key_; }  // "gpu-index identity host"
  const std::string& clock_id() const { return clock_id_; }      // ranks with one id share a steady clock
  torch::Tensor to_dev(const torch::Tensor& t) const { return cuda_ ? t.to(dev_) : t; }
  static torch::Tensor to_host(const torch::Tensor& t) { return t.is_cpu() ? t : t.to(torch::kCPU); }

  int pipeline_rank() const { return prank_; }
  int replica() const { return replica_; }
  int my_replicas() const { return layout_.replicas(prank_); }
  // Global rank holding `stage` in this rank's replica of the pipeline (its
  // first replica where that stage has fewer).
  int peer(int stage) const;
  // The ranks exchanging micro-batch `mb` with `stage`'s pipeline rank.
  std::vector<RowPart> exchange(int stage, int mb) const;
  int tag(int boundary, int mb, int dir) const { return (boundary * mbs_ + mb) * 2 + dir; }

  // Sends this replica's rows of `t` to `stage`'s pipeline rank.
  void post_send(const Action& a, const torch::Tensor& t, int stage, int tag, RankTimeline& tl);
  // Posts the receive of `a` into a buffer of `shape` (rows: this replica's part).
  void post_recv(const Action& a, std::vector<std::int64_t> shape, int stage, int tag, RankTimeline& tl);
  // Waits for the receive of (stage, mb, type), joins its parts in row order, on the device.
  torch::Tensor take_recv(int stage, int mb, ActionType type, RankTimeline& tl);
  // Marks completed sends' ends (cheap; called after every action).
  void poll_sends(RankTimeline& tl);
  // Waits for every send of the step (their events join the timeline); throws
  // when a posted receive was never used.
  void end_step(RankTimeline& tl);

 private:
  struct Pending {
    std::vector<torch::Tensor> bufs;  // Gloo wants an lvalue vector that outlives the Work
    c10::intrusive_ptr<c10d::Work> work;
    TimelineEvent event;
    bool done = false;
  };
  void choose_device_and_transport();
  std::string nccl_refusal() const;
  PeerChannel* channel(ActionType t) const;
  Pending start_transfer(const Action& a, Stream stream, torch::Tensor buf, int peer, RankTimeline& tl) const;

  const RunConfig& c_;
  RankIdentity id_;
  const ReplicaLayout& layout_;
  int prank_ = 0, replica_ = 0, mbs_ = 0;
  std::int64_t mb_rows_ = 0;    // rows of a whole micro-batch
  torch::ScalarType boundary_;  // boundary tensors travel in the working precision
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> world_, replicas_;
  torch::Device dev_{torch::kCPU};
  bool cuda_ = false;
  Transport transport_ = Transport::gloo;
  std::unique_ptr<PeerChannel> fwd_, bwd_;  // NCCL: activations downstream, gradients upstream
  std::string device_key_, clock_id_;
  std::vector<Pending> sends_;
  std::map<std::tuple<int, int, int>, std::vector<Pending>> recvs_;  // (stage, mb, type) -> parts
};

}  // namespace pipekit
