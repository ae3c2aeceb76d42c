// Discrete-event simulation of one pipeline schedule: per-rank timelines,
// step time, bubbles and memory.
//
// Each rank runs its action list in order on one compute stream. Transfers run
// on links between devices (latency + bytes / bandwidth of the joining level of
// the Cluster, rank r = device r unless SimOptions::rank_device says otherwise),
// one transfer at a time per direction, overlapping compute. Dependencies: F of a
// micro-batch on stage s needs the activation from stage s-1; B or I needs F on
// the same stage and the gradient from s+1; W needs I (or B); R needs F; SEND_*
// needs the compute that produced its data. STEP and REDUCE_GRAD follow the rank's
// list order (REDUCE_GRAD costs the stage's all-reduce). An unlowered schedule
// moves data across ranks implicitly (a transfer when the producer finishes); a
// lowered one moves it only through SEND (eager: it starts when posted and the
// link is free) and a consumer also needs its RECV posted earlier in its list.
//
// A schedule that cannot finish is found as soon as no rank can progress and is
// reported by InputError naming every rank's blocked action and what it waits
// for. Cost is linear in the number of actions (flat arrays indexed by
// (stage, micro-batch), a program counter per rank, a work list of ranks that a
// finished dependency may unblock); no per-action allocation when
// record_timeline is off.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/cluster.h"
#include "core/schedule.h"
#include "core/timeline.h"
#include "simulator/memory_model.h"
#include "simulator/stage_costs.h"

namespace pipekit {

struct SimOptions {
  Optimizer optimizer = Optimizer::adam;
  // The precision of the costs' bytes (param_bytes is one working copy in it)
  // and of the memory terms derived from them (core/precision.h).
  Precision precision = Precision::fp32;
  int microbatch_size = 1;             // samples per micro-batch (throughput)
  int microbatches_per_minibatch = 0;  // async schedules; 0: total / STEPs of stage 0
  double step_ms = 0;                  // optimizer step cost of a stage without its own (StageCost::step_ms)
  std::vector<int> rank_device;        // cluster device of each rank; empty: identity
  bool record_timeline = true;         // events and memory samples; metrics always
  // Multiplies the duration of action k of rank r's list by
  // action_time_scale[r][k] (empty, or a short row: 1). The shared-device
  // model (shared_device.h) sets it; most callers leave it empty.
  std::vector<std::vector<double>> action_time_scale;
  bool record_action_times = false;  // fill SimulationResult::action_times
  // Asynchronous schedules: an F/B/I/W/R whose weight version differs from the
  // one its stage last computed with first copies the stage's parameters
  // (param_bytes) at this rate, as the executor's weight stashing does. 0: free.
  double weight_copy_bytes_per_s = 0;
  // Processor time a rank spends on each message it sends to or receives from
  // another rank (LogP's overhead o: posting, the transport's threads copying
  // and waking it), added to the compute action that produces or consumes the
  // message. 0: free, as on a transport that offloads it.
  double message_overhead_ms = 0;
  // The part of that overhead that grows with the message: copying it through
  // the transport (LogGP's G on the processor). Per byte of each message.
  double message_overhead_per_byte_ms = 0;
  // Monte Carlo draws (simulator/prediction_spread.h); empty: none.
  // compute_noise[r][k] multiplies the duration of compute action k of rank r
  // (on top of action_time_scale); send_delay_ms[r][k] delays the delivery of
  // the message that action k (a SEND) of rank r posts.
  std::vector<std::vector<double>> compute_noise;
  std::vector<std::vector<double>> send_delay_ms;
  // A transport without asynchronous progress (Gloo over TCP on busy CPU
  // ranks) hands a message over only while its receiver waits for it: the
  // receiver's action that needs a message from another rank starts no
  // earlier than this long after the receiver reached it, however early the
  // message was sent. 0: messages that arrived early cost nothing (NCCL, an
  // idle processor). Measured by the late-receive probe. receive_wait_draw_ms
  // [r][k] replaces it for the message posted by action k (a SEND) of rank r.
  double receive_wait_ms = 0;
  std::vector<std::vector<double>> receive_wait_draw_ms;
};

struct RankMetrics {
  double busy_ms = 0;          // compute stream busy
  double idle_ms = 0;          // step_time - busy
  double bubble_fraction = 0;  // idle / step_time
  double span_ms = 0;          // first compute start to last compute end
  std::int64_t peak_memory_bytes = 0;
  MemorySample peak_memory;            // terms at the peak
  std::string peak_term;               // largest term at the peak
  int peak_inflight_microbatches = 0;  // forwards whose last backward has not finished
};

struct SimMetrics {
  double step_time_ms = 0;  // makespan of the simulated schedule
  // Flush schedules: step_time_ms. pipedream/2bw: steady-state time per minibatch,
  // (C[k2] - C[k1]) / (k2 - k1) where C[k] is when the last backward of minibatch k
  // finishes on any stage, k1 = n/4, k2 = n-1-n/4 over n minibatches (the middle
  // half, away from fill and drain); one minibatch: step_time_ms.
  double time_per_minibatch_ms = 0;
  bool asynchronous = false;
  int minibatches = 1;
  int microbatches_per_minibatch = 0;
  double throughput_samples_per_s = 0;   // minibatch samples / time_per_minibatch
  double bubble_fraction = 0;            // sum idle / (ranks * step_time)
  std::int64_t peak_memory_bytes = 0;    // max over ranks
  std::int64_t device_memory_bytes = 0;  // limit from the cluster, 0 = none
  bool fits_memory = true;
  std::size_t actions = 0;
  std::vector<RankMetrics> ranks;
};

struct SimulationResult {
  SimMetrics metrics;
  // Empty events/memory unless record_timeline. Events are grouped by rank, then
  // stream (compute, send, recv), each group in start order; memory samples by
  // rank in time order, one per instant at which a term changed.
  Timeline timeline;
  // With SimOptions::record_action_times: [rank][position in its list] =
  // (start, end) ms of that action; sends and receives are (post, post).
  std::vector<std::vector<std::pair<double, double>>> action_times;
};

// costs.stages must cover every stage of the schedule. Throws InputError for an
// action on a rank that does not hold its stage, duplicates, out-of-range
// indices, and for schedules that deadlock.
SimulationResult simulate(const Schedule& schedule, const StageCosts& costs, const Cluster& cluster,
                          const SimOptions& options = {});

// Cluster with free links and no memory limit, for p ranks.
Cluster free_cluster(int ranks);

}  // namespace pipekit
