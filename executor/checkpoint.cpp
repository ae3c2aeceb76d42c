#include "executor/checkpoint.h"

#include <fmt/format.h>

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
  j["optimizer"] = c.optimizer;
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

}  // namespace

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
