#include "executor/layer_profiler.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "core/error.h"
#include "executor/batch_source.h"
#include "executor/compute_threads.h"
#include "executor/gpu_transport.h"
#include "executor/host_memory.h"
#include "executor/master_weights.h"
#include "executor/memory_meter.h"
#include "executor/model_layers.h"
#include "executor/tensor_data.h"

#if PIPEKIT_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace pipekit {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t bytes_of(const torch::Tensor& t) {
  return t.defined() ? static_cast<std::int64_t>(t.numel() * t.element_size()) : 0;
}

// Live/peak bytes of the device the layers run on.
struct MemoryProbe {
  bool cuda = false;
  std::int64_t live() const {
#if PIPEKIT_TORCH_CUDA
    if (cuda) {
      auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
      return s.allocated_bytes[0].current;  // aggregate pool
    }
#endif
    return memory_meter::live_bytes();
  }
  std::int64_t peak() const {
#if PIPEKIT_TORCH_CUDA
    if (cuda) return c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].peak;
#endif
    return memory_meter::peak_bytes();
  }
  void reset_peak() const {
#if PIPEKIT_TORCH_CUDA
    if (cuda) {
      c10::cuda::CUDACachingAllocator::resetPeakStats(0);
      return;
    }
#endif
    memory_meter::reset_peak();
  }
};

// CPU time of the calling thread (threads == 1: LibTorch runs ops inline), or
// of the process divided by the intra-op threads otherwise.
double cpu_ms(int threads) {
  timespec ts{};
  clock_gettime(threads <= 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6) /
         std::max(1, threads);
}

// Times a piece of work: steady_clock on the CPU, CUDA events on the GPU.
template <class F>
double time_ms(bool cuda, F&& f) {
#if PIPEKIT_TORCH_CUDA
  if (cuda) {
    at::cuda::CUDAEvent a(cudaEventDefault), b(cudaEventDefault);
    auto stream = c10::cuda::getCurrentCUDAStream();
    a.record(stream);
    f();
    b.record(stream);
    b.synchronize();
    return a.elapsed_time(b);
  }
#endif
  (void)cuda;
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Samples {
  std::vector<double> fwd, in_grad, w_grad, bwd;
  double wall = 0, cpu = 0;  // sums over the rounds, for the wall/CPU ratio
};

struct LayerMemory {
  std::int64_t output = 0, saved = 0, workspace = 0;
};

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// One optimizer over given working weights (their gradients replaced by
// random ones), stepped as a rank steps: on fp32 master weights, then the copy
// into the working ones, when the precision is mixed.
class LayerStepper {
 public:
  LayerStepper(const std::vector<torch::Tensor>& working, Optimizer optimizer, Precision precision)
      : low_(mixed(precision)), params_(working) {
    if (low_) master_ = MasterWeights(params_);
    std::vector<torch::Tensor>& updated = low_ ? master_.tensors() : params_;
    for (auto& p : updated) p.mutable_grad() = torch::randn_like(p) * 1e-3;
    opt_ = make_optimizer(optimizer, updated, 1e-4);
    step();  // adam allocates its state lazily
  }
  void step() {
    opt_->step();
    if (low_) master_.copy_to(params_);
  }

 private:
  bool low_;
  std::vector<torch::Tensor> params_;
  MasterWeights master_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
};

// The inputs each layer sees for micro-batch 0 of step 0, and its targets.
struct LayerInputs {
  std::vector<torch::Tensor> in;     // in[i] = input of layer i
  std::vector<torch::Tensor> grads;  // gradient arriving at layer i's output (ones for the loss)
  torch::Tensor targets;
};

class Profiler {
 public:
  explicit Profiler(const ProfilerOptions& o) : o_(o) {}

  Profile run();

 private:
  void memory(int i, LayerMemory* mem);
  void sweep(std::vector<Samples>* samples);  // nullptr: warm-up
  void progress(int done, int total);
  // Runs `sweep` at least `repeat` times and until the runs span min_time_s
  // (at most 2000); returns how many ran.
  template <class F>
  int repeat_for_min_time(F&& sweep) {
    const auto start = std::chrono::steady_clock::now();
    int k = 0;
    while (k < o_.repeat ||
           (k < 2000 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
                            o_.min_time_s)) {
      sweep();
      ++k;
    }
    return k;
  }

  const ProfilerOptions& o_;
  bool cuda_ = false;
  MemoryProbe probe_;
  std::vector<ModelLayer> layers_;
  LayerInputs inputs_;
  LossFunction loss_;
  std::vector<std::vector<torch::Tensor>> fp32_grads_;  // mixed precision: per layer, where gradients add up
  // Mixed precision: adds layer i's fresh gradients into fp32 and frees them.
  void fold(int i, const std::vector<torch::Tensor>& grads) {
    for (std::size_t k = 0; k < grads.size() && k < fp32_grads_[i].size(); ++k)
      if (grads[k].defined()) fp32_grads_[i][k].add_(grads[k]);
  }
  int n_ = 0;
};

void Profiler::progress(int done, int total) {
  if (!o_.progress) return;
  const int width = 30;
  const int fill = total ? done * width / total : width;
  std::fprintf(stderr, "\rprofiling %s [%s%s] %d/%d", o_.model.name.c_str(), std::string(fill, '#').c_str(),
               std::string(width - fill, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

// Memory of layer i alone, on a quiet allocator: output, what autograd saves,
// and the transient peak of its forward and backward.
void Profiler::memory(int i, LayerMemory* mem) {
  const bool last = i == n_ - 1;
  const ModelLayer& layer = layers_[i];
  torch::Tensor in = inputs_.in[i].detach();
  if (in.is_floating_point()) in.requires_grad_(true);
  const std::int64_t live0 = probe_.live();
  probe_.reset_peak();
  torch::Tensor logits = layer.forward(in);
  torch::Tensor out = last ? scaled_loss(logits, inputs_.targets, 1, loss_) : logits;
  mem->output = bytes_of(logits);
  logits = torch::Tensor();  // the last layer's logits are not kept (the loss keeps what backward needs)
  const std::int64_t live1 = probe_.live();
  mem->saved = std::max<std::int64_t>(0, live1 - live0);
  mem->workspace = std::max<std::int64_t>(0, probe_.peak() - live1);
  // Backpropagate as training does: parameter gradients accumulate into .grad
  // tensors that already exist (steady state), the input's gradient lands in
  // in.grad (the stage keeps it to send).
  for (const auto& p : layer.params) p.mutable_grad() = torch::zeros_like(p);
  const std::int64_t live2 = probe_.live();
  probe_.reset_peak();
  if (out.requires_grad()) torch::autograd::backward({out}, {inputs_.grads[i]});
  mem->workspace = std::max(mem->workspace, std::max<std::int64_t>(0, probe_.peak() - live2));
  for (const auto& p : layer.params) p.mutable_grad() = torch::Tensor();
}

// One training-ordered pass over the whole model for one micro-batch: the
// forward of every layer first to last (graphs kept), then, last to first, the
// input gradients (I), the weight gradients (W, a second pass as zero-bubble
// schedules run it) and a full backward (B), each timed per layer. Timing a
// layer in a loop of its own would keep its weights in cache, which pipeline
// ranks, running the layers chained, never see.
void Profiler::sweep(std::vector<Samples>* samples) {
  const bool use_cpu = o_.cpu_time && !cuda_;
  auto timed = [&](int i, auto&& work) {
    const double c0 = cpu_ms(o_.threads);
    const double w = time_ms(cuda_, work);
    const double c1 = cpu_ms(o_.threads);
    if (samples) {
      (*samples)[i].wall += w;
      (*samples)[i].cpu += c1 - c0;
    }
    return use_cpu ? c1 - c0 : w;
  };
  std::vector<torch::Tensor> in(n_), out(n_);
  std::vector<double> f(n_, 0), ig(n_, 0), wg(n_, 0), b(n_, 0);
  for (int i = 0; i < n_; ++i) {
    in[i] = inputs_.in[i].detach();
    if (in[i].is_floating_point()) in[i].requires_grad_(true);
    const bool last = i == n_ - 1;
    f[i] = timed(i, [&] {
      torch::Tensor y = layers_[i].forward(in[i]);
      out[i] = last ? scaled_loss(y, inputs_.targets, 1, loss_) : y;
    });
  }
  for (int i = n_ - 1; i >= 0; --i)
    if (in[i].requires_grad() && out[i].requires_grad())
      ig[i] = timed(
          i, [&] { torch::autograd::grad({out[i]}, {in[i]}, {inputs_.grads[i]}, /*retain_graph=*/true); });
  for (int i = n_ - 1; i >= 0; --i)
    if (!layers_[i].params.empty() && out[i].requires_grad())
      wg[i] = timed(i, [&] {
        auto gs =
            torch::autograd::grad({out[i]}, layers_[i].params, {inputs_.grads[i]}, /*retain_graph=*/true,
                                  /*create_graph=*/false, /*allow_unused=*/true);
        if (mixed(o_.precision)) fold(i, gs);
      });
  // B as a rank runs it: parameter gradients accumulate into the .grad
  // tensors that exist (see profile()), the input's lands in in.grad.
  for (int i = n_ - 1; i >= 0; --i)
    if (out[i].requires_grad())
      b[i] = timed(i, [&] {
        torch::autograd::backward({out[i]}, {inputs_.grads[i]});
        if (!mixed(o_.precision)) return;
        std::vector<torch::Tensor> gs;
        for (auto& p : layers_[i].params) gs.push_back(p.grad());
        fold(i, gs);
        for (auto& p : layers_[i].params) p.mutable_grad().reset();
      });
  if (!samples) return;
  for (int i = 0; i < n_; ++i) {
    (*samples)[i].fwd.push_back(f[i]);
    (*samples)[i].in_grad.push_back(ig[i]);
    (*samples)[i].w_grad.push_back(wg[i]);
    (*samples)[i].bwd.push_back(b[i]);
  }
}

std::string kind_of(const ModelSpec& m, int i, int n) {
  switch (m.kind) {
    case ModelKind::gpt:
      return i == 0 ? "Embedding" : i == n - 1 ? "LMHead" : "TransformerBlock";
    case ModelKind::mlp:
      return "Linear";
    default:
      return "TorchScript";
  }
}

std::string name_of(const ModelSpec& m, int i, int n) {
  switch (m.kind) {
    case ModelKind::gpt:
      return i == 0 ? "embedding" : i == n - 1 ? "head" : fmt::format("block{}", i - 1);
    case ModelKind::mlp:
      return fmt::format("linear{}", i);
    default:
      return fmt::format("layer{}", i);
  }
}

Profile Profiler::run() {
  ModelSpec m = o_.model;
  n_ = m.num_layers();
  const int seq = o_.seq;
  // A tensor file, read once: the model takes its inputs' shape and dtype, the
  // loss is what its targets imply unless --loss says, and its first
  // micro-batch is what is measured.
  std::optional<BatchSource> file;
  if (is_tensor_data(o_.data)) {
    file.emplace(m, o_.data, o_.microbatch, seq, 1, o_.seed);
    take_inputs_of(m, *file->tensors());
  }
  loss_ = LossFunction::parse(
      o_.loss.empty() && file ? LossFunction::default_for(file->tensors()->targets) : o_.loss, "--loss");
  if (o_.device == "cuda") {
    if (!torch::cuda::is_available())
      throw InputError("--device", "",
                       "cuda asked for, but LibTorch has no usable CUDA device here; use --device cpu");
#if !PIPEKIT_TORCH_CUDA
    throw InputError("--device", "",
                     "this pipekit was built against a LibTorch without CUDA; use --device cpu");
#endif
    cuda_ = true;
  } else if (o_.device != "cpu") {
    throw InputError("--device", "", "'" + o_.device + "' is not one of cpu, cuda");
  }
  probe_.cuda = cuda_;
  memory_meter::install();
  set_compute_threads(o_.threads);
  keep_host_memory();

  std::vector<int> all(n_);
  for (int i = 0; i < n_; ++i) all[i] = i;
  layers_ = build_layers(m, all, o_.seed);
  const torch::Device dev = cuda_ ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  move_layers(layers_, dev);
  const torch::ScalarType dt = working_dtype(o_.precision);
  if (mixed(o_.precision)) {
    if (const std::string why = precision_unsupported(o_.precision, dev); !why.empty())
      throw InputError("--precision", "",
                       fmt::format("this LibTorch cannot compute in {} on the {} ({}); {}",
                                   to_string(o_.precision), o_.device, why,
                                   cuda_ ? "use fp16 or fp32 on this GPU" : "use bf16 (or fp32) on the CPU"));
    cast_layers(layers_, dt);
  }

  inputs_.in.resize(n_);
  if (m.input() == InputKind::tensors && !file) {
    // --input-shape: random inputs; targets made to fit the loss below.
    inputs_.in[0] = working_input(random_input(m, o_.microbatch, seq, o_.seed).to(dev), dt);
  } else {
    const BatchSource data =
        file ? *file : BatchSource(m, o_.data.empty() ? "random" : o_.data, o_.microbatch, seq, 1, o_.seed);
    MicroBatch mb = data.get(0, 0);
    inputs_.in[0] = working_input(input_tensor(mb).to(dev), dt);
    inputs_.targets = target_tensor(mb).to(dev);
  }
  {
    torch::NoGradGuard ng;
    for (int i = 0; i + 1 < n_; ++i) inputs_.in[i + 1] = layers_[i].forward(inputs_.in[i]).detach();
  }

  inputs_.grads.resize(n_);
  {
    torch::NoGradGuard ng;
    for (int i = 0; i < n_; ++i) {
      torch::Tensor y = layers_[i].forward(inputs_.in[i]);
      if (i == n_ - 1 && !inputs_.targets.defined())  // random inputs: zero targets the loss takes
        inputs_.targets = loss_.spec() == "cross_entropy"
                              ? torch::zeros(y.sizes().slice(0, y.dim() - 1), y.options().dtype(torch::kLong))
                              : torch::zeros_like(y, y.options().dtype(torch::kFloat));
      // The last layer's output is its loss, computed in fp32.
      inputs_.grads[i] =
          i == n_ - 1 ? torch::ones({}, y.options().dtype(torch::kFloat)) : torch::randn_like(y);
    }
  }

  std::vector<Samples> samples(n_);
  std::vector<LayerMemory> mems(n_);
  const int total = n_ + o_.warmup + o_.repeat;
  int done = 0;
  progress(0, total);
  for (int i = 0; i < n_; ++i) {
    memory(i, &mems[i]);
    progress(++done, total);
  }
  // Steady state of training: every parameter has a gradient buffer that
  // each backward adds to (reading and writing it, which costs as much memory
  // traffic as the weights themselves). Mixed precision: the backward writes
  // fresh low-precision gradients, which are added into fp32 ones and freed
  // (executor/master_weights.h), as a rank does after every backward.
  fp32_grads_.assign(n_, {});
  for (int i = 0; i < n_; ++i)
    for (const auto& p : layers_[i].params)
      if (mixed(o_.precision))
        fp32_grads_[i].push_back(torch::zeros_like(p, p.options().dtype(torch::kFloat)));
      else
        p.mutable_grad() = torch::zeros_like(p);
  for (int k = 0; k < o_.warmup; ++k) {
    sweep(nullptr);
    progress(++done, total);
  }
  const int timed_sweeps = repeat_for_min_time([&] {
    sweep(&samples);
    progress(std::min(++done, total), total);
  });
  for (auto& l : layers_)
    for (const auto& p : l.params) p.mutable_grad() = torch::Tensor();

  Profile p;
  p.model = m.name;
  p.device = cuda_ ? "cuda" : "cpu";
  p.dtype = to_string(o_.precision);
  p.microbatch_size = o_.microbatch;
  p.seq_len = m.input() == InputKind::tokens ? seq : 0;
  p.input_bytes = bytes_of(inputs_.in[0]);
  nlohmann::ordered_json spread = nlohmann::ordered_json::object();
  auto put_spread = [&](const char* key, int i, const std::vector<double>& v) {
    spread[key]["min"].push_back(quantile(v, 0));
    spread[key]["p10"].push_back(quantile(v, 0.1));
    spread[key]["p90"].push_back(quantile(v, 0.9));
    spread[key]["max"].push_back(quantile(v, 1));
    (void)i;
  };
  double wall = 0, cpu = 0;
  for (int i = 0; i < n_; ++i) {
    Layer l;
    l.name = name_of(m, i, n_);
    l.kind = kind_of(m, i, n_);
    l.forward_ms = quantile(samples[i].fwd, 0.5);
    l.backward_ms = quantile(samples[i].bwd, 0.5);
    l.input_grad_ms = std::min(quantile(samples[i].in_grad, 0.5), l.backward_ms);
    l.weight_grad_ms = quantile(samples[i].w_grad, 0.5);
    for (const auto& t : layers_[i].params) l.param_bytes += bytes_of(t);
    l.output_bytes = mems[i].output;
    l.saved_bytes = mems[i].saved;
    l.workspace_bytes = mems[i].workspace;
    put_spread("forward_ms", i, samples[i].fwd);
    put_spread("backward_ms", i, samples[i].bwd);
    put_spread("input_grad_ms", i, samples[i].in_grad);
    put_spread("weight_grad_ms", i, samples[i].w_grad);
    wall += samples[i].wall;
    cpu += samples[i].cpu;
    p.layers.push_back(std::move(l));
  }
  p.meta["spread"] = spread.dump();
  p.meta["machine.cpu"] = cpu_model_name();
  p.meta["machine.logical_cores"] = std::to_string(logical_cores());
  p.meta["library.torch"] = TORCH_VERSION;
  p.meta["precision.native"] = native_precision_support(o_.precision, o_.device);
  p.meta["settings"] =
      fmt::format("device {} microbatch {} seq {} threads {} warmup {} repeat {} seed {}", p.device,
                  o_.microbatch, p.seq_len, o_.threads, o_.warmup, o_.repeat, o_.seed);
  p.meta["sweeps"] =
      fmt::format("{} timed (at least {} over at least {} s)", timed_sweeps, o_.repeat, o_.min_time_s);
  p.meta["source"] = "pipekit profile (executor/layer_profiler.cpp)";
  p.meta["timing"] = cuda_         ? "CUDA events around each piece of work"
                     : o_.cpu_time ? "CPU time of the profiling thread (clock_gettime), not wall time"
                                   : "std::chrono::steady_clock";
  if (!cuda_ && cpu > 0) p.meta["wall_over_cpu"] = fmt::format("{:.4f}", wall / cpu);
  p.meta["memory"] = cuda_ ? "CUDA caching allocator statistics (allocated bytes)"
                           : "counting CPU allocator: saved = live after forward (graph kept) - live before; "
                             "includes the layer output";
  p.meta["split"] =
      "input_grad = grad w.r.t. the layer input only (graph kept); weight_grad = grad w.r.t. the "
      "parameters run after it, as zero-bubble W actions run; backward = one full backward";
  p.meta["order"] = "whole-model sweeps in training order (F first to last; I, W, B last to first); medians";
  if (o_.optimizer) {
    // Per layer, so any split sums its stages' steps (the optimizer loops over
    // parameter tensors, so the parts add up). Timed in sweeps over the whole
    // model, each layer's step after the one before it, as a rank steps its
    // stage (a loop on one layer's step would keep its weights and state in
    // cache, which a rank's step never does).
    std::vector<std::unique_ptr<LayerStepper>> steppers(n_);
    std::vector<std::vector<double>> step_ms(n_);
    std::int64_t bytes = 0;
    for (int i = 0; i < n_; ++i) {
      bytes += p.layers[i].param_bytes;
      if (!layers_[i].params.empty())
        steppers[i] = std::make_unique<LayerStepper>(layers_[i].params, *o_.optimizer, o_.precision);
    }
    const int step_sweeps = repeat_for_min_time([&] {
      for (int i = 0; i < n_; ++i)
        if (steppers[i]) step_ms[i].push_back(time_ms(cuda_, [&] { steppers[i]->step(); }));
    });
    p.meta["step_sweeps"] = std::to_string(step_sweeps);
    for (int i = 0; i < n_; ++i) p.layers[i].step_ms = steppers[i] ? quantile(step_ms[i], 0.5) : 0.0;
    p.optimizer = to_string(*o_.optimizer);
    if (bytes > 0) p.weight_copy_bytes_per_s = measure_weight_copy_rate(bytes, o_.device);
  }
  validate(p, "profile of " + m.name);
  return p;
}

}  // namespace

Profile profile_model(const ProfilerOptions& o) {
  if (o.repeat < 1) throw InputError("--repeat", "", "needs at least 1 timed round");
  if (o.warmup < 0) throw InputError("--warmup", "", "cannot be negative");
  if (o.microbatch < 1) throw InputError("--microbatch", "", "needs at least 1 row per micro-batch");
  if (o.threads < 1) throw InputError("--threads", "", "needs at least 1 thread");
  ProfilerOptions opt = o;
  if (opt.model.kind == ModelKind::gpt) {
    if (opt.seq == 0) opt.seq = std::min(opt.model.context, 64);
    if (opt.seq < 1 || opt.seq > opt.model.context)
      throw InputError(
          "--seq", "",
          fmt::format("sequence length must be 1..{} for {}", opt.model.context, opt.model.name));
  } else if (opt.seq == 0) {
    opt.seq = 32;
  }
  Profiler p(opt);
  return p.run();
}

double measure_weight_copy_rate(std::int64_t bytes, const std::string& device) {
  const bool cuda = device == "cuda";
  const auto opts = torch::TensorOptions().device(cuda ? torch::Device(torch::kCUDA, 0) : torch::kCPU);
  const std::int64_t n = std::max<std::int64_t>(1 << 18, std::min<std::int64_t>(bytes, 256LL << 20) / 4);
  torch::Tensor src = torch::ones({n}, opts), dst = torch::empty({n}, opts);
  for (int i = 0; i < 2; ++i) dst.copy_(src);
  std::vector<double> ms;
  for (int i = 0; i < 7; ++i) ms.push_back(time_ms(cuda, [&] { dst.copy_(src); }));
  return static_cast<double>(n * 4) / (quantile(ms, 0.5) / 1e3);
}

OptimizerStepCost measure_optimizer_step(const ModelSpec& m, const std::vector<int>& layers,
                                         Optimizer optimizer, int repeat, std::uint64_t seed,
                                         const std::string& device, Precision precision) {
  memory_meter::install();
  const bool cuda = device == "cuda";
  auto built = build_layers(m, layers, seed);
  move_layers(built, cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU));
  if (mixed(precision)) cast_layers(built, working_dtype(precision));
  std::vector<torch::Tensor> params;
  for (auto& l : built)
    for (auto& p : l.params) params.push_back(p);
  LayerStepper stepper(params, optimizer, precision);
  std::vector<double> v;
  OptimizerStepCost cost;
  for (int k = 0; k < std::max(1, repeat); ++k) {
    const std::int64_t live = memory_meter::live_bytes();
    memory_meter::reset_peak();
    v.push_back(time_ms(cuda, [&] { stepper.step(); }));
    if (!cuda)  // the CUDA caching allocator is not this meter's
      cost.transient_bytes = std::max(cost.transient_bytes, memory_meter::peak_bytes() - live);
  }
  cost.ms = quantile(v, 0.5);
  return cost;
}

std::string native_precision_support(Precision p, const std::string& device) {
  if (p == Precision::fp32) return "yes";
  if (device == "cuda") {
#if PIPEKIT_TORCH_CUDA
    // bf16 arithmetic from compute capability 8.0 (Ampere); fp16 everywhere CUDA runs.
    if (p == Precision::fp16) return "yes";
    const int major = at::cuda::getCurrentDeviceProperties()->major;
    return major >= 8 ? fmt::format("yes: compute capability {}.x", major)
                      : fmt::format("no: compute capability {}.x has no bf16 arithmetic", major);
#else
    return "unknown";
#endif
  }
  // x86 flags for bf16/fp16 arithmetic; without them LibTorch converts to fp32 to compute.
  std::ifstream f("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(f, line))
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  const std::vector<std::string> want = p == Precision::bf16
                                            ? std::vector<std::string>{"amx_bf16", "avx512_bf16"}
                                            : std::vector<std::string>{"avx512_fp16", "amx_fp16"};
  for (const auto& w : want)
    if (flags.find(" " + w + " ") != std::string::npos) return "yes: " + w;
  return fmt::format("no: the CPU has no {} arithmetic ({}); LibTorch computes through fp32", to_string(p),
                     fmt::format("{} absent", want.front()));
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto c = line.find(':');
      if (c != std::string::npos) return line.substr(line.find_first_not_of(' ', c + 1));
    }
  return "unknown";
}

int logical_cores() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace pipekit
