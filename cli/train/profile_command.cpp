// pipekit profile: measure a model's per-layer costs on this machine and write
// a profile (pipekit-profile/1 JSON) the simulator and planners read.
//
//   pipekit profile --model gpt-tiny --microbatch 2 --seq 64 --out gpt-tiny.json
//   pipekit profile --model gpt2-small --device cuda --microbatch 4 --seq 256 --out p.json
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "cli/training_commands.h"
#include "core/error.h"
#include "core/formats.h"
#include "executor/layer_profiler.h"
#include "executor/model_layers.h"
#include "executor/tensor_data.h"

namespace pipekit::cli {
namespace {

struct ProfileOptions {
  ProfilerOptions p;
  std::string model_name = "gpt-tiny";
  std::string out;
  std::string precision = "fp32";
  std::string optimizer = "adam";
  int vocab = 0;
  bool quiet = false;
  std::string input_shape, input_dtype;  // TorchScript models without --data
};

// What a TorchScript model is fed: a tensor file (the profiler reads its
// shape, dtype and the loss its targets imply), or --input-shape/--input-dtype.
void resolve_tensor_input(ProfileOptions& o) {
  ModelSpec& m = o.p.model;
  if (is_tensor_data(o.p.data)) {
    if (!o.input_shape.empty() || !o.input_dtype.empty())
      throw InputError("--input-shape", "",
                       "the data file gives the input's shape and dtype; drop --input-shape");
  } else if (!o.input_shape.empty()) {
    if (m.kind != ModelKind::torchscript)
      throw InputError("--input-shape", "",
                       "built-in models know their input; --input-shape is for script: models");
    if (!o.p.data.empty())
      throw InputError("--data", "", "give --input-shape or a tensor file (.pt), not both");
    m.sample_shape = parse_sample_shape(o.input_shape, "--input-shape");
    m.sample_dtype =
        dtype_name(parse_dtype(o.input_dtype.empty() ? "float32" : o.input_dtype, "--input-dtype"));
  } else if (!o.input_dtype.empty()) {
    throw InputError("--input-dtype", "", "give --input-shape with it (one sample's shape, e.g. 3,32,32)");
  }
  if (m.kind != ModelKind::torchscript && !o.p.loss.empty() && o.p.loss != "cross_entropy")
    throw InputError("--loss", "", "built-in models train with cross_entropy; --loss is for script: models");
}

void run_profile(ProfileOptions& o) {
  if (o.out.empty()) throw InputError("--out", "", "give the file to write the profile to");
  o.p.model = resolve_model(o.model_name, o.vocab, "--model");
  o.p.precision = parse_precision(o.precision, "--precision");
  if (o.optimizer == "none")
    o.p.optimizer.reset();
  else
    o.p.optimizer = parse_optimizer(o.optimizer, "--optimizer", {Optimizer::adam, Optimizer::sgd});
  resolve_tensor_input(o);
  o.p.model.probe_seq = o.p.seq;
  o.p.progress = !o.quiet;
  Profile prof = profile_model(o.p);
  write_text_file(o.out, profile_to_json(prof));
  if (o.quiet) return;
  ProfileTotals t = totals(prof);
  fmt::print("profile of {} on {} ({}), micro-batch {}, seq {}, {} thread(s), {} (native arithmetic: {})\n",
             prof.model, prof.device, prof.meta["machine.cpu"], prof.microbatch_size, prof.seq_len,
             o.p.threads, prof.dtype, prof.meta["precision.native"]);
  fmt::print("{:>3} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11}\n", "#", "layer", "fwd ms",
             "bwd ms", "in-grad", "w-grad", "step ms", "params B", "output B", "saved B");
  double step = 0;
  for (std::size_t i = 0; i < prof.layers.size(); ++i) {
    const Layer& l = prof.layers[i];
    step += l.step_ms.value_or(0);
    fmt::print("{:>3} {:<12} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>11} {:>11} {:>11}\n", i, l.name,
               l.forward_ms, l.backward_ms, l.input_grad_ms.value_or(0), l.weight_grad_ms.value_or(0),
               l.step_ms.value_or(0), l.param_bytes, l.output_bytes, l.saved_bytes);
  }
  fmt::print("total: forward {:.3f} ms, backward {:.3f} ms, {} parameters, saved {} bytes per micro-batch\n",
             t.forward_ms, t.backward_ms, t.param_count, t.saved_bytes);
  if (!prof.optimizer.empty())
    fmt::print("optimizer step ({}): {:.3f} ms per update; weight copies {:.2f} GB/s\n", prof.optimizer, step,
               prof.weight_copy_bytes_per_s / 1e9);
  fmt::print("profile: {}\n", o.out);
}

void add_profile(CLI::App& app) {
  auto o = std::make_shared<ProfileOptions>();
  auto* cmd = app.add_subcommand("profile", find_training_command("profile")->description);
  cmd->add_option("--model", o->model_name, "gpt-tiny, gpt2-small, ..., mlp, or script:FILE[,FILE...]")
      ->capture_default_str();
  cmd->add_option("--device", o->p.device, "cpu or cuda")->capture_default_str();
  cmd->add_option(
         "--precision", o->precision,
         "fp32, bf16 or fp16: measure in it (working weights and activations; fp16 needs a GPU here)")
      ->capture_default_str();
  cmd->add_option("--microbatch", o->p.microbatch, "Rows per micro-batch")->capture_default_str();
  cmd->add_option("--seq", o->p.seq, "Tokens per row (default min(context, 64))");
  cmd->add_option("--warmup", o->p.warmup, "Untimed rounds per layer")->capture_default_str();
  cmd->add_option("--min-time", o->p.min_time_s,
                  "Seconds the timed sweeps span at least (more sweeps than --repeat when they are short: "
                  "the median then is the machine's median speed; 0: exactly --repeat)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  cmd->add_option("--repeat", o->p.repeat, "Timed rounds per layer (medians are reported)")
      ->capture_default_str();
  cmd->add_option("--threads", o->p.threads, "Intra-op threads (as each rank of pipekit run)")
      ->capture_default_str();
  cmd->add_flag("--cpu-time", o->p.cpu_time,
                "Record the thread's CPU time instead of wall time (robust to a busy machine)");
  cmd->add_option("--optimizer", o->optimizer,
                  "adam or sgd: measure each layer's optimizer step with it (what plan and simulate charge "
                  "per update); none: no step costs")
      ->capture_default_str();
  cmd->add_option("--seed", o->p.seed, "Seed of weights and data")->capture_default_str();
  cmd->add_option("--vocab", o->vocab, "gpt vocabulary size (default 256)");
  cmd->add_option(
      "--data", o->p.data,
      "script: models: a tensor file (.pt, torch.save((inputs, targets))) whose first micro-batch is "
      "measured");
  cmd->add_option("--input-shape", o->input_shape,
                  "script: models without --data: one sample's input shape, e.g. 3,32,32 (random inputs)");
  cmd->add_option("--input-dtype", o->input_dtype, "With --input-shape: float32 (default), int64, ...");
  cmd->add_option(
      "--loss", o->p.loss,
      "cross_entropy, mse or script:FILE (default: what the data's targets imply, else cross_entropy)");
  cmd->add_option("--out", o->out, "Profile JSON to write")->required();
  cmd->add_flag("--quiet", o->quiet, "No progress bar or table");
  cmd->callback([o] { run_profile(*o); });
}

CommandRegistration reg(62, add_profile);

}  // namespace
}  // namespace pipekit::cli
