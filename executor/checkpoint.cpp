#include "executor/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "checkpoint/catalog.h"
#include "checkpoint/durable_file.h"
#include "checkpoint/file_digest.h"
#include "checkpoint/resume_choice.h"
#include "core/error.h"
#include "core/formats.h"

namespace pipekit {
namespace {

namespace fs = std::filesystem;

// The stage's weights and optimizer state: param<i> and optimizer.
void write_weights(torch::serialize::OutputArchive& ar, const std::vector<torch::Tensor>& weights,
                   const torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive state;
  for (std::size_t i = 0; i < weights.size(); ++i) ar.write("param" + std::to_string(i), weights[i].detach());
  opt.save(state);
  ar.write("optimizer", state);
}

void read_weights(torch::serialize::InputArchive& ar, std::vector<torch::Tensor>& weights,
                  torch::optim::Optimizer& opt) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    torch::Tensor t;
    ar.read("param" + std::to_string(i), t);
    if (!t.sizes().equals(weights[i].sizes()))
      throw std::runtime_error(fmt::format("parameter {} has shape {}, the model's is {}", i,
                                           fmt::join(t.sizes(), "x"), fmt::join(weights[i].sizes(), "x")));
    weights[i].copy_(t);
  }
  torch::serialize::InputArchive state;
  ar.read("optimizer", state);
  opt.load(state);
}

// Writes the archive durably, digesting it on the way. LibTorch 1.13 cannot
// survive a writer that reports a failure (its archive writer's destructor
// writes again while the first exception unwinds, and the process
// terminates), so the writer always takes the bytes and DurableFile keeps
// the system's error, which commit() then throws with the file's name.
CheckpointFile save_archive(torch::serialize::OutputArchive& ar, const std::string& path,
                            const WriteHook& at) {
  DurableFile f(path, at, WritePoint::mid_file);
  try {
    ar.save_to([&f](const void* data, std::size_t n) -> std::size_t {
      f.write(data, n);
      return n;
    });
  } catch (const c10::Error& e) {
    f.fail(f.error().empty() ? e.what_without_backtrace() : f.error());
  }
  const FileDigest d = f.commit();
  if (at) at(WritePoint::after_file);
  return {fs::path(path).filename().string(), d.bytes, d.xxh3};
}

// Reading a stage file: whatever goes wrong (LibTorch's archive reader, a
// shape that does not fit) is an InputError naming the file and what to do,
// never LibTorch's stack trace.
template <class Read>
auto read_archive(const std::string& path, Read&& read)
    -> decltype(read(std::declval<torch::serialize::InputArchive&>())) {
  auto fail = [&](const std::string& what) {
    const std::string dir = fs::path(path).parent_path().string();
    return InputError(
        path, "",
        fmt::format("cannot read this checkpoint file: {}; `pipekit checkpoint verify {}` checks "
                    "it, and --resume falls back to an older checkpoint once this one is moved away",
                    what, dir));
  };
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    return read(ar);
  } catch (const c10::Error& e) {
    throw fail(e.what_without_backtrace());
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
}

}  // namespace

CheckpointFile write_stage_file(const std::string& path, LocalStage& s, const WriteHook& at) {
  torch::serialize::OutputArchive ar;
  write_weights(ar, s.optimized(), *s.opt);
  return save_archive(ar, path, at);
}

void read_stage_file(const std::string& path, LocalStage& s) {
  read_archive(path, [&](torch::serialize::InputArchive& ar) { read_weights(ar, s.optimized(), *s.opt); });
  if (s.mixed) s.master.copy_to(s.params);
}

CheckpointFile write_stream_stage_file(const std::string& path, const LocalStage& s,
                                       const std::map<int, double>& losses, const WriteHook& at) {
  torch::serialize::OutputArchive ar;
  const WeightStash& stash = s.stash;
  write_weights(ar, stash.master(), *s.opt);
  const std::vector<std::int64_t> state = {stash.updates(), stash.forwards(),
                                           static_cast<std::int64_t>(stash.max_versions())};
  ar.write("state", torch::tensor(state, torch::kInt64));
  std::vector<std::int64_t> ids, flying;
  for (const auto& [v, w] : stash.versions()) {
    ids.push_back(v);
    for (std::size_t i = 0; i < w.size(); ++i) ar.write(fmt::format("version{}.{}", v, i), w[i]);
  }
  ar.write("versions", torch::tensor(ids, torch::kInt64));
  for (const auto& [mb, v] : stash.in_flight()) {
    flying.insert(flying.end(), {mb, v});
    ar.write("input" + std::to_string(mb), s.input.at(mb).detach());
  }
  ar.write("in_flight", torch::tensor(flying, torch::kInt64));
  std::vector<double> flat;
  for (const auto& [mb, l] : losses) flat.insert(flat.end(), {static_cast<double>(mb), l});
  ar.write("losses", torch::tensor(flat, torch::kFloat64));
  return save_archive(ar, path, at);
}

std::vector<int> read_stream_stage_file(const std::string& path, LocalStage& s, const torch::Device& device,
                                        std::map<int, double>& losses) {
  return read_archive(path, [&](torch::serialize::InputArchive& ar) {
    read_weights(ar, s.stash.master(), *s.opt);
    torch::NoGradGuard no_grad;
    auto read = [&](const std::string& name) {
      torch::Tensor t;
      ar.read(name, t);
      return t;
    };
    torch::Tensor state = read("state");
    std::map<int, std::vector<torch::Tensor>> versions;
    torch::Tensor ids = read("versions");
    for (std::int64_t k = 0; k < ids.numel(); ++k) {
      const int v = static_cast<int>(ids[k].item<std::int64_t>());
      std::vector<torch::Tensor> w;
      for (std::size_t i = 0; i < s.params.size(); ++i)
        w.push_back(read(fmt::format("version{}.{}", v, i)).to(device));
      versions[v] = std::move(w);
    }
    torch::Tensor flying = read("in_flight");
    std::map<int, int> in_flight;
    std::vector<int> mbs;
    for (std::int64_t k = 0; k + 1 < flying.numel(); k += 2) {
      const int mb = static_cast<int>(flying[k].item<std::int64_t>());
      in_flight[mb] = static_cast<int>(flying[k + 1].item<std::int64_t>());
      s.input[mb] = read("input" + std::to_string(mb)).to(device);
      mbs.push_back(mb);
    }
    s.stash.restore(
        static_cast<int>(state[0].item<std::int64_t>()), static_cast<int>(state[1].item<std::int64_t>()),
        static_cast<std::size_t>(state[2].item<std::int64_t>()), std::move(versions), std::move(in_flight));
    torch::Tensor flat = read("losses");
    for (std::int64_t k = 0; k + 1 < flat.numel(); k += 2)
      losses[static_cast<int>(flat[k].item<double>())] = flat[k + 1].item<double>();
    return mbs;
  });
}

std::string checkpoint_stage_name(int stage, int replica) {
  return replica == 0 ? fmt::format("stage{}.pt", stage)
                      : fmt::format("stage{}.replica{}.pt", stage, replica);
}

std::string checkpoint_stage_file(const RunConfig& c, int step, int stage, int replica) {
  return checkpoint_path(c.checkpoint_dir, step) + "/" + checkpoint_stage_name(stage, replica);
}

nlohmann::ordered_json checkpoint_run_identity(const RunConfig& c) {
  nlohmann::ordered_json j;
  j["model"] = c.model.name;
  j["model_layers"] = c.model.num_layers();
  if (c.model.kind == ModelKind::gpt) {
    j["vocab"] = c.model.vocab;
    j["tie_weights"] = c.model.tie_weights;
  }
  if (c.model.kind == ModelKind::torchscript) {  // the same names may hold another model
    std::vector<std::string> digests;
    for (const auto& f : c.model.script_files) digests.push_back(digest_file(f).xxh3);
    j["model_files_xxh3"] = digests;
  }
  j["precision"] = to_string(c.precision);
  j["schedule"] = c.schedule.kind;
  j["stages"] = c.schedule.num_stages;
  j["ranks"] = c.schedule.num_ranks;
  j["stage_layers"] = c.stage_layers;
  // Asynchronous replicas each write their own file; flush replicas share one
  // (replica 0's), which any replica count can resume from.
  if (c.async && c.replicated()) j["replicas"] = c.replica_counts();
  // An asynchronous run is one stream: it resumes only as the same stream.
  j["microbatches"] = c.async ? c.minibatch_mbs : c.schedule.num_microbatches;
  if (c.async) j["stream_minibatches"] = c.steps;
  j["batch"] = c.batch;
  j["seq"] = c.seq;
  j["optimizer"] = to_string(c.optimizer);
  j["seed"] = c.seed;
  return j;
}

int find_resume_step(RunConfig& c) {
  const nlohmann::ordered_json want = checkpoint_run_identity(c);
  std::vector<std::string> needed;  // the files this run reads
  for (int s = 0; s < c.schedule.num_stages; ++s) {
    const int replicas = c.async ? c.replica_counts().at(c.schedule.stage_to_rank[s]) : 1;
    for (int j = 0; j < replicas; ++j) needed.push_back(checkpoint_stage_name(s, j));
  }
  bool other_run = false;  // some checkpoint was made by a run this one cannot continue
  auto compatible = [&](const CheckpointManifest& m) -> std::string {
    std::string key;
    if (std::string why = run_mismatch(m.run, want, &key); !why.empty()) {
      other_run = true;
      return fmt::format("made by another run ({}){}", why,
                         key == "stream_minibatches"
                             ? "; an asynchronous stream resumes only as itself: give the same --steps"
                             : "");
    }
    for (const auto& name : needed)
      if (std::none_of(m.files.begin(), m.files.end(), [&](const auto& f) { return f.name == name; }))
        return fmt::format("its manifest lists no {}, which this run reads", name);
    return "";
  };
  try {
    if (c.resume_choice.dir.empty()) {
      c.resume_choice = choose_resume_checkpoint(c.checkpoint_dir, compatible, c.resume_exact);
    } else {  // pipekit's launcher verified it moments ago: recheck only what it chose
      const std::string mpath = manifest_path(c.resume_choice.dir);
      const CheckpointManifest m = manifest_from_json(read_text_file(mpath), mpath);
      if (std::string why = compatible(m); !why.empty())
        throw InputError("--resume", c.resume_choice.dir, why);
    }
  } catch (const InputError& e) {
    if (!other_run) throw;
    throw InputError(
        e.source(), e.where(),
        e.problem() +
            "\n  (a run resumes with the same model, schedule, stages, micro-batches, batch, seq, "
            "optimizer, seed and precision, and for pipedream/2bw the same replicas)");
  }
  const int step = c.resume_choice.step;
  if (step >= c.steps)
    throw InputError("--steps", "",
                     c.async
                         ? fmt::format("the {} stream checkpointed in {} is complete ({} minibatches); start "
                                       "a new run (another --checkpoint-dir) to train further",
                                       c.schedule.kind, c.resume_choice.dir, step)
                         : fmt::format("the checkpoint {} already has {} steps done; ask for more than {}",
                                       c.resume_choice.dir, step, step));
  return step;
}

}  // namespace pipekit
