// Per-layer profile of a model measured on this machine: what the simulator and
// the planners take as the model's costs (core/profile.h).
//
// Each layer runs on its real input (the micro-batch pushed through the layers
// before it). Timing is `warmup` untimed and `repeat` timed sweeps over the
// whole model in training order, so every layer's weights are as cold as in a
// pipeline (looping on one layer keeps them in cache, which training never
// does; executor/README.md): the forward of every layer
// first to last (the last layer includes the loss, as the pipeline's last
// stage does), then last to first the input gradient alone (autograd::grad
// w.r.t. the layer input, graph kept), the weight-gradient pass (w.r.t. the
// parameters, graph kept, exactly as the runtime's zero-bubble W action runs
// it: it re-traverses the layer, so I + W may exceed one full backward) and the
// full backward. backward_ms is the median full backward, input_grad_ms the
// median input-only backward (capped at backward_ms), weight_grad_ms the
// median W pass. A sweep holds one micro-batch's activations of every layer,
// as one-process training does.
// Layer fields hold medians; min/p10/p90/max of every timed
// quantity are in meta["spread"] as JSON text.
//
// Memory comes from the counting CPU allocator (memory_meter.h), so it is what
// tensors really hold: saved_bytes = bytes alive after the forward with its
// graph kept minus bytes alive before it (the input already existed), i.e. what
// autograd saved plus the layer's output, which the next layer or the send keeps
// until backward; workspace_bytes = the largest transient peak above that during
// forward, or above the bytes live before the backward during a backward run as
// training runs it (parameter gradients accumulated into existing .grad tensors,
// the input's gradient kept); an untimed pass per layer measures memory. On CUDA (LibTorch built with CUDA,
// tensors on the GPU) times come from CUDA events and memory from the caching allocator's stats.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "core/profile.h"
#include "executor/model_spec.h"

namespace pipekit {

struct ProfilerOptions {
  ModelSpec model;
  std::string device = "cpu";  // cpu | cuda
  int microbatch = 1;          // rows per micro-batch
  int seq = 0;                 // tokens per row (gpt); 0: min(context, 64)
  int warmup = 2, repeat = 5;
  // Timed sweeps go on past `repeat` until they span this long (at most 2000
  // sweeps): a CPU VM's speed drifts in states of a few hundred milliseconds
  // (docs/sim-vs-real.md), so a median over many states is the median speed,
  // where 5 sweeps of a small model land in one state. 0: exactly `repeat`.
  double min_time_s = 2.0;
  int threads = 1;  // intra-op threads, as each rank of `pipekit run --threads`
  std::uint64_t seed = 1234;
  bool progress = false;  // progress bar on stderr
  // Layer times are the thread's CPU time instead of wall time: what the work
  // costs when it has a core, free of preemption by other processes.
  // meta["wall_over_cpu"] records the ratio seen while profiling (both modes).
  bool cpu_time = false;
  // Weights and activations in this precision (core/precision.h); the profile
  // records it as its dtype, and in meta["precision.native"] whether the
  // processor has arithmetic for it.
  Precision precision = Precision::fp32;
  // TorchScript models fed tensors (model.sample_shape/sample_dtype set): the
  // first micro-batch of a tensor file, or random inputs of that shape.
  std::string data;
  std::string loss;  // cross_entropy (default), mse or script:FILE
  // Each layer's optimizer step (median of `repeat` sweeps stepping every
  // layer in turn, so each layer's weights are as cold as in a rank's step; 0
  // for a layer without parameters) and the weight-copy rate over the
  // model's weights, recorded as step_ms, optimizer and
  // weight_copy_bytes_per_s; nullopt: none measured.
  std::optional<Optimizer> optimizer = Optimizer::adam;
};

// Throws InputError for bad settings (device without CUDA, repeat < 1, ...).
Profile profile_model(const ProfilerOptions& o);

// One optimizer step (adam or sgd) over the parameters of the given layers, as
// a rank takes it in `precision` (mixed: on the fp32 master weights, then the
// copy into the working ones): median milliseconds of `repeat` rounds after
// one untimed round (adam makes its state then), and the transient bytes it
// allocates above what is live (adam's temporaries; counting allocator).
struct OptimizerStepCost {
  double ms = 0;
  std::int64_t transient_bytes = 0;
};
OptimizerStepCost measure_optimizer_step(const ModelSpec& m, const std::vector<int>& layers,
                                         Optimizer optimizer, int repeat, std::uint64_t seed,
                                         const std::string& device = "cpu",
                                         Precision precision = Precision::fp32);

// Bytes per second of copying `bytes` of weights on `device` (median of 7
// after 2 untimed; at most 256 MiB are copied): what weight stashing pays to
// load another version into the layers.
double measure_weight_copy_rate(std::int64_t bytes, const std::string& device = "cpu");

// Whether this processor has arithmetic for `p` ("yes: avx512_bf16", "no: ..."):
// what a profile records beside the precision it was measured in.
std::string native_precision_support(Precision p, const std::string& device);

// "Intel(R) Xeon(R) ..." from /proc/cpuinfo (or "unknown"), and logical cores.
std::string cpu_model_name();
int logical_cores();

}  // namespace pipekit
