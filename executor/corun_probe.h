// How much compute pipeline ranks get when they share this machine's
// processor: CPU cores whose arithmetic units are shared (two vCPUs of one
// physical core), or one GPU that CUDA time-slices between processes.
//
// k worker processes (this binary, `pipekit corun --child`) each loop the
// forward and backward of one rank's layers at the run's micro-batch shape
// (or, with work = "step", the optimizer step over those layers): each alone,
// then all at once, then each alone again, every window of fixed length
// after a common start signal. A worker's alone rate is the mean of its two
// alone windows (the machine's speed drifts over seconds). capacity = sum
// over workers of (rate together / rate alone): k when they do not slow each
// other, 1 when together they get no more done than one alone; on the CPU at
// most the cores the process may run on. The simulator's shared-device
// model (simulator/shared_device.h) takes it as the group's capacity.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "core/precision.h"
#include "executor/model_spec.h"

namespace pipekit {

struct CorunOptions {
  ModelSpec model;
  std::vector<std::vector<int>> worker_layers;  // per worker (rank): the layers it computes
  int microbatch = 1;
  int seq = 0;
  std::string device = "cpu";
  int gpu = 0;  // device == "cuda": the GPU the workers share
  // What each worker loops: "compute" (forward and backward of its layers) or
  // "step" (the optimizer step over its layers' weights: memory-bound).
  std::string work = "compute";
  Optimizer optimizer = Optimizer::adam;  // work == "step"
  Precision precision = Precision::fp32;  // what the workers compute in, as the ranks do
  int threads = 1;                        // intra-op threads per worker, as per rank
  double window_s = 1.5;                  // each timed window
  std::uint64_t seed = 1234;
  double timeout_s = 120;  // any worker not answering within this is an error
};

struct CorunResult {
  std::vector<double> alone_per_s, together_per_s;  // iterations per second, per worker
  double capacity = 1;                              // on the CPU at most the cores this process may run on
  double measured_capacity = 1;                     // the ratio as measured, before that bound
  // Every worker's iteration times in the together window over that worker's
  // median (at most 400 per worker, evenly spaced): how much one action's time
  // varies while the ranks share the processor (simulator/prediction_spread.h).
  std::vector<double> together_noise;
  // Every worker's alone windows (before and after the together one) as time series: its iteration times over
  // their median, in time order (thinned evenly), each sample standing for
  // alone_sample_s seconds of the window. The machine's own speed states
  // (simulator/prediction_spread.h draws blocks of them).
  std::vector<std::vector<double>> alone_series;
  std::vector<double> alone_sample_s;
};

// Throws std::runtime_error when a worker fails or times out (it says which).
CorunResult measure_corun(const CorunOptions& o);

// The worker: builds the layers, warms up, prints "ready", waits for a line
// on stdin, loops for window_s, prints "rate <iterations per second>".
int corun_worker(const CorunOptions& o);

}  // namespace pipekit
