// pipekit corun: measure how much compute ranks sharing this machine get when
// they run at once (executor/corun_probe.h); `run --compare` uses it to
// simulate ranks on one device.
//
//   pipekit corun --model gpt2-small --ranks 2 --microbatch 1 --seq 32
//   pipekit corun --model gpt2-small --vocab 50257 --ranks 2 --device cuda --microbatch 4 --seq 512
#include <fmt/format.h>

#include <memory>
#include <sstream>

#include "cli/command.h"
#include "cli/training_commands.h"
#include "core/error.h"
#include "executor/corun_probe.h"
#include "executor/gpu_transport.h"
#include "executor/model_layers.h"
#include "executor/tensor_data.h"

namespace pipekit::cli {
namespace {

struct CorunCommand {
  CorunOptions p;
  std::string model_name = "gpt-tiny";
  int vocab = 0;
  int ranks = 2;
  bool child = false;
  std::string layers;  // --child: this worker's layers
  std::string optimizer = "adam";
  std::string precision = "fp32";
  std::string input_shape, input_dtype;  // a TorchScript model fed tensors: one sample's
};

std::vector<int> parse_layers(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoi(part));
  return out;
}

void run_corun(CorunCommand& o) {
  o.p.model = resolve_model(o.model_name, o.vocab, "--model");
  if (!o.input_shape.empty()) {
    o.p.model.sample_shape = parse_sample_shape(o.input_shape, "--input-shape");
    o.p.model.sample_dtype =
        dtype_name(parse_dtype(o.input_dtype.empty() ? "float32" : o.input_dtype, "--input-dtype"));
  }
  if (o.p.seq <= 0) o.p.seq = std::min(o.p.model.context, 64);
  if (o.p.microbatch < 1) throw InputError("--microbatch", "", "needs at least 1 row");
  if (o.p.threads < 1) throw InputError("--threads", "", "needs at least 1 thread");
  if (!(o.p.window_s > 0)) throw InputError("--window", "", "must be a positive number of seconds");
  if (o.p.work != "compute" && o.p.work != "step")
    throw InputError("--work", "", "'" + o.p.work + "' is not one of compute, step");
  o.p.optimizer = parse_optimizer(o.optimizer, "--optimizer", {Optimizer::adam, Optimizer::sgd});
  o.p.precision = parse_precision(o.precision, "--precision");
  if (o.p.device != "cpu" && o.p.device != "cuda")
    throw InputError("--device", "", "'" + o.p.device + "' is not one of cpu, cuda");
  if (o.p.device == "cuda" && !PIPEKIT_TORCH_CUDA)
    throw InputError("--device", "",
                     "this pipekit was built against a LibTorch without CUDA; use --device cpu");
  const int n = o.p.model.num_layers();
  if (o.child) {
    o.p.worker_layers = {parse_layers(o.layers)};
    std::exit(corun_worker(o.p));
  }
  if (o.ranks < 1 || o.ranks > n)
    throw InputError("--ranks", "",
                     fmt::format("needs 1..{} workers ({} has {} layers)", n, o.model_name, n));
  // Contiguous, equal-count layer groups, as a uniform split would give each rank.
  for (int r = 0; r < o.ranks; ++r) {
    std::vector<int> l;
    for (int i = r * n / o.ranks; i < (r + 1) * n / o.ranks; ++i) l.push_back(i);
    o.p.worker_layers.push_back(l);
  }
  CorunResult res = measure_corun(o.p);
  fmt::print("co-run of {} on {}: {} worker(s), micro-batch {}, seq {}, {} thread(s) each, {} s windows\n",
             o.model_name, o.p.device, o.ranks, o.p.microbatch, o.p.seq, o.p.threads, o.p.window_s);
  fmt::print("worker  layers      alone it/s  together it/s  share\n");
  for (int r = 0; r < o.ranks; ++r) {
    const auto& l = o.p.worker_layers[r];
    fmt::print("{:>6}  {:<10}  {:>10.2f}  {:>13.2f}  {:>5.2f}\n", r,
               fmt::format("{}..{}", l.front(), l.back()), res.alone_per_s[r], res.together_per_s[r],
               res.together_per_s[r] / res.alone_per_s[r]);
  }
  fmt::print("capacity: {:.2f} ranks' worth of {} ({} would be no slowdown, 1 none gained by sharing)\n",
             res.capacity, o.p.work == "step" ? "optimizer steps" : "compute", o.ranks);
  if (res.measured_capacity > res.capacity * (1 + 1e-9))
    fmt::print(
        "  (measured {:.2f}, more than the {:.0f} cores this process may use: bounded by them; the "
        "machine's speed changed between the windows)\n",
        res.measured_capacity, res.capacity);
}

void add_corun(CLI::App& app) {
  auto o = std::make_shared<CorunCommand>();
  auto* cmd = app.add_subcommand("corun", find_training_command("corun")->description);
  cmd->add_option("--model", o->model_name, "gpt-tiny, gpt2-small, ..., mlp, or script:FILE[,FILE...]")
      ->capture_default_str();
  cmd->add_option("--vocab", o->vocab, "gpt vocabulary size (default 256)");
  cmd->add_option("--ranks", o->ranks, "Workers, each computing an equal share of the layers")
      ->capture_default_str();
  cmd->add_option("--microbatch", o->p.microbatch, "Rows per micro-batch")->capture_default_str();
  cmd->add_option("--seq", o->p.seq, "Tokens per row (default min(context, 64))");
  cmd->add_option("--device", o->p.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--work", o->p.work,
                  "What workers loop: compute (forward+backward) or step (optimizer step)")
      ->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "--work step: adam or sgd")->capture_default_str();
  cmd->add_option("--gpu", o->p.gpu, "--device cuda: index of the GPU the workers share")
      ->capture_default_str();
  cmd->add_option("--threads", o->p.threads, "Intra-op threads per worker")->capture_default_str();
  cmd->add_option("--window", o->p.window_s, "Seconds each timed window lasts")->capture_default_str();
  cmd->add_option("--seed", o->p.seed, "Seed of weights and data")->capture_default_str();
  cmd->add_option("--precision", o->precision, "fp32, bf16 or fp16: what the workers compute in")
      ->capture_default_str();
  cmd->add_flag("--child", o->child, "(internal) run as one worker")->group("");
  cmd->add_option("--layers", o->layers, "(internal) --child: this worker's layers")->group("");
  cmd->add_option("--input-shape", o->input_shape,
                  "script: models fed tensors: one sample's shape, e.g. 3,32,32");
  cmd->add_option("--input-dtype", o->input_dtype, "With --input-shape: float32 (default), int64, ...");
  cmd->callback([o] { run_corun(*o); });
}

CommandRegistration reg(63, add_corun);

}  // namespace
}  // namespace pipekit::cli
