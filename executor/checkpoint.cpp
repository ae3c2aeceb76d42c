#include "executor/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace pipekit {
namespace {

namespace fs = std::filesystem;

std::string step_dir(const RunConfig& c, int step) {
  return fmt::format("{}/step-{}", c.checkpoint_dir, step);
}

nlohmann::json manifest_of(const RunConfig& c) {
  nlohmann::json j;
  j["model"] = c.model.name;
  j["schedule"] = c.schedule.kind;
  j["stages"] = c.schedule.num_stages;
  j["ranks"] = c.schedule.num_ranks;
  j["stage_layers"] = c.stage_layers;
  // An asynchronous run is one stream: it resumes only as the same stream.
  j["microbatches"] = c.async ? c.minibatch_mbs : c.schedule.num_microbatches;
  if (c.async) j["stream_minibatches"] = c.steps;
  j["batch"] = c.batch;
  j["seq"] = c.seq;
  j["optimizer"] = to_string(c.optimizer);
  j["precision"] = to_string(c.precision);
  j["seed"] = c.seed;
  // Asynchronous replicas each write their own file; flush replicas share one
  // (replica 0's), which any replica count can resume from.
  if (c.async && c.replicated()) j["replicas"] = c.replica_counts();
  return j;
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write checkpoint file " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

// The stage's weights and optimizer state: param<i> and optimizer.
void write_weights(torch::serialize::OutputArchive& ar, const std::vector<torch::Tensor>& weights,
                   const torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive state;
  for (std::size_t i = 0; i < weights.size(); ++i) ar.write("param" + std::to_string(i), weights[i].detach());
  opt.save(state);
  ar.write("optimizer", state);
}

void read_weights(torch::serialize::InputArchive& ar, const std::string& path,
                  std::vector<torch::Tensor>& weights, torch::optim::Optimizer& opt) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    torch::Tensor t;
    ar.read("param" + std::to_string(i), t);
    if (!t.sizes().equals(weights[i].sizes()))
      throw std::runtime_error(fmt::format("checkpoint {}: parameter {} has shape {}, the model's is {}",
                                           path, i, fmt::join(t.sizes(), "x"),
                                           fmt::join(weights[i].sizes(), "x")));
    weights[i].copy_(t);
  }
  torch::serialize::InputArchive state;
  ar.read("optimizer", state);
  opt.load(state);
}

// Written to a temporary name and renamed: a stage file is whole or absent.
void save_atomically(torch::serialize::OutputArchive& ar, const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  ar.save_to(path + ".tmp");
  if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename the checkpoint file " + path + ".tmp");
}

}  // namespace

void write_stage_file(const std::string& path, LocalStage& s) {
  torch::serialize::OutputArchive ar;
  write_weights(ar, s.optimized(), *s.opt);
  save_atomically(ar, path);
}

void read_stage_file(const std::string& path, LocalStage& s) {
  torch::serialize::InputArchive ar;
  ar.load_from(path);
  read_weights(ar, path, s.optimized(), *s.opt);
  if (s.mixed) s.master.copy_to(s.params);
}

void write_stream_stage_file(const std::string& path, const LocalStage& s,
                             const std::map<int, double>& losses) {
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
  save_atomically(ar, path);
}

std::vector<int> read_stream_stage_file(const std::string& path, LocalStage& s, const torch::Device& device,
                                        std::map<int, double>& losses) {
  torch::serialize::InputArchive ar;
  ar.load_from(path);
  read_weights(ar, path, s.stash.master(), *s.opt);
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
}

std::string checkpoint_stage_file(const RunConfig& c, int step, int stage, int replica) {
  return replica == 0 ? fmt::format("{}/stage{}.pt", step_dir(c, step), stage)
                      : fmt::format("{}/stage{}.replica{}.pt", step_dir(c, step), stage, replica);
}

int find_resume_step(const RunConfig& c) {
  const std::string latest = c.checkpoint_dir + "/latest";
  std::ifstream in(latest);
  int step = -1;
  if (!(in >> step) || step < 1)
    throw InputError(
        "--resume", c.checkpoint_dir,
        "no complete checkpoint here (" + latest + " is missing or unreadable); run without --resume first");
  const std::string mpath = step_dir(c, step) + "/manifest.json";
  std::ifstream min(mpath);
  if (!min)
    throw InputError("--resume", mpath, "the checkpoint's manifest is missing: the checkpoint is incomplete");
  nlohmann::json m;
  try {
    min >> m;
  } catch (const std::exception& e) {
    throw InputError("--resume", mpath, std::string("unreadable manifest: ") + e.what());
  }
  const nlohmann::json want = manifest_of(c);
  for (auto& [key, value] : want.items())
    if (!m.contains(key) || m[key] != value)
      throw InputError(
          "--resume", mpath,
          fmt::format("the checkpoint was made with {} = {}, this run has {}; run with the same model, "
                      "schedule, stages, micro-batches, batch, seq, optimizer, seed (and, for pipedream/2bw, "
                      "replicas){}",
                      key, m.contains(key) ? m[key].dump() : "(none)", value.dump(),
                      key == "stream_minibatches"
                          ? " (an asynchronous stream resumes only as itself: give the same --steps)"
                          : ""));
  for (int s = 0; s < c.schedule.num_stages; ++s) {
    const int g = c.schedule.stage_to_rank[s];
    const int replicas = c.async ? c.replica_counts().at(g) : 1;
    for (int j = 0; j < replicas; ++j)
      if (!fs::exists(checkpoint_stage_file(c, step, s, j)))
        throw InputError("--resume", checkpoint_stage_file(c, step, s, j),
                         "a stage file of the checkpoint is missing");
  }
  if (step >= c.steps)
    throw InputError("--steps", "",
                     c.async
                         ? fmt::format("the {} stream checkpointed in {} is complete ({} minibatches); start "
                                       "a new run (another --checkpoint-dir) to train further",
                                       c.schedule.kind, c.checkpoint_dir, step)
                         : fmt::format("the checkpoint in {} already has {} steps done; ask for more than {}",
                                       c.checkpoint_dir, step, step));
  return step;
}

void write_checkpoint_manifest(const RunConfig& c, int step) {
  nlohmann::json m = manifest_of(c);
  m["step"] = step;
  write_atomically(step_dir(c, step) + "/manifest.json", m.dump(2) + "\n");
  write_atomically(c.checkpoint_dir + "/latest", std::to_string(step) + "\n");
}

}  // namespace pipekit
