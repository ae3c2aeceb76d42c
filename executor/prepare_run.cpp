// prepare_run(): everything about a job that can be wrong is found here, in the
// launching process, before any rank starts (InputError -> exit 2).
#include <algorithm>

#include "core/error.h"
#include "core/formats.h"
#include "executor/batch_source.h"
#include "executor/run_config.h"
#include "planner/lowering.h"
#include "planner/schedule_generator.h"

namespace pipekit {
namespace {

std::vector<std::vector<int>> uniform_split(int layers, int stages) {
  std::vector<std::vector<int>> out(stages);
  int next = 0;
  for (int s = 0; s < stages; ++s) {
    const int n = layers / stages + (s < layers % stages ? 1 : 0);
    for (int k = 0; k < n; ++k) out[s].push_back(next++);
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Schedule load_schedule_file(const std::string& path) {
  std::string text = read_text_file(path);
  if (ends_with(path, ".json")) return schedule_from_json(text, path);
  if (ends_with(path, ".csv")) return parse_schedule_csv(text, path);
  return parse_schedule_text(text, path);
}

void check_actions(const Schedule& s, const std::string& source) {
  for (std::size_t r = 0; r < s.actions.size(); ++r)
    for (const Action& a : s.actions[r])
      if (a.type == ActionType::I || a.type == ActionType::W || a.type == ActionType::REDUCE_GRAD)
        throw InputError(source, "rank " + std::to_string(r) + ": " + to_string(a),
                         "the executor does not run " + std::string(to_string(a.type)) +
                             " actions yet; use naive, gpipe, 1f1b or interleaved");
  if (s.kind == "pipedream" || s.kind == "2bw")
    throw InputError(source, "", "the executor runs flush schedules only (naive, gpipe, 1f1b, interleaved), not " + s.kind);
}

}  // namespace

void prepare_run(RunConfig& c) {
  Plan plan;
  if (!c.plan_path.empty()) {
    plan = plan_from_json(read_text_file(c.plan_path), c.plan_path);
    if (!plan.model.empty() && !c.model_given) c.model_name = plan.model;
  }
  c.model = model_spec_from_name(c.model_name, c.plan_path.empty() ? "--model" : c.plan_path);
  if (c.tie_weights) {
    if (c.model.kind != ModelKind::gpt)
      throw InputError("--tie-weights", "", "only the built-in gpt models have an embedding and a head to tie");
    c.model.tie_weights = true;
  }
  if (c.vocab) {
    if (c.model.kind != ModelKind::gpt) throw InputError("--vocab", "", "only the built-in gpt models take --vocab");
    if (c.vocab < 256) throw InputError("--vocab", "", "the byte tokenizer needs a vocabulary of at least 256");
    c.model.vocab = c.vocab;
  }
  if (c.model.kind == ModelKind::torchscript) c.model.script_layers = count_script_layers(c.model);
  const int layers = c.model.num_layers();

  if (!c.plan_path.empty()) {
    validate(plan, c.plan_path, layers);
    for (std::size_t i = 0; i < plan.stages.size(); ++i)
      if (plan.stages[i].replicas != 1)
        throw InputError(c.plan_path, "$.stages[" + std::to_string(i) + "].replicas",
                         "the executor runs straight pipelines only (one replica per stage)");
    c.schedule = lower_schedule(generate_schedule(plan.schedule, plan.num_ranks()));
    if (c.schedule.num_stages != static_cast<int>(plan.stages.size()))
      throw InputError(c.plan_path, "$.stages",
                       "the plan has " + std::to_string(plan.stages.size()) + " stages but its schedule (" +
                           plan.schedule.kind + " on " + std::to_string(plan.num_ranks()) + " ranks, virtual " +
                           std::to_string(plan.schedule.virtual_stages) + ") has " +
                           std::to_string(c.schedule.num_stages));
    c.stage_layers.clear();
    for (std::size_t i = 0; i < plan.stages.size(); ++i) {
      if (plan.stages[i].ranks[0] != c.schedule.stage_to_rank[i])
        throw InputError(c.plan_path, "$.stages[" + std::to_string(i) + "].ranks",
                         "stage " + std::to_string(i) + " is placed on rank " + std::to_string(plan.stages[i].ranks[0]) +
                             " but the " + plan.schedule.kind + " schedule runs it on rank " +
                             std::to_string(c.schedule.stage_to_rank[i]));
      c.stage_layers.push_back(plan.stages[i].layers);
      std::sort(c.stage_layers.back().begin(), c.stage_layers.back().end());
    }
    if (c.batch == 0 && plan.microbatch_size > 0) c.batch = plan.microbatch_size * plan.schedule.microbatches;
  } else {
    if (!c.schedule_path.empty()) {
      c.schedule = load_schedule_file(c.schedule_path);
      if (!c.schedule.lowered()) c.schedule = lower_schedule(c.schedule);
    } else {
      if (c.stages < 1) throw InputError("--stages", "", "needs at least 1 stage");
      ScheduleSpec spec;
      spec.kind = c.schedule_kind;
      spec.microbatches = c.microbatches;
      spec.virtual_stages = c.virtual_stages;
      if (!recompute_from_string(c.recompute, spec.recompute))
        throw InputError("--recompute", "", "'" + c.recompute + "' is not one of never, except_last, always");
      c.schedule = lower_schedule(generate_schedule(spec, c.stages));
    }
    if (c.schedule.num_stages > layers)
      throw InputError(c.schedule_path.empty() ? "--stages" : c.schedule_path, "",
                       "the model has " + std::to_string(layers) + " layers, fewer than the " +
                           std::to_string(c.schedule.num_stages) + " pipeline stages asked for");
    c.stage_layers = uniform_split(layers, c.schedule.num_stages);
  }
  check_actions(c.schedule, c.plan_path.empty() ? (c.schedule_path.empty() ? "--schedule" : c.schedule_path) : c.plan_path);

  const int m = c.schedule.num_microbatches;
  if (c.batch == 0) c.batch = 2 * m;
  if (c.batch < m || c.batch % m != 0)
    throw InputError("--batch", "", "batch " + std::to_string(c.batch) + " does not split into " + std::to_string(m) +
                                        " equal micro-batches; use a multiple of " + std::to_string(m));
  if (c.seq == 0) c.seq = c.model.kind == ModelKind::gpt ? std::min(c.model.context, 64) : 32;
  if (c.model.kind == ModelKind::gpt && (c.seq < 1 || c.seq > c.model.context))
    throw InputError("--seq", "", "sequence length must be 1.." + std::to_string(c.model.context) + " for " + c.model.name);
  if (c.steps < 1) throw InputError("--steps", "", "needs at least 1 step");
  if (c.optimizer != "adam" && c.optimizer != "sgd")
    throw InputError("--optimizer", "", "'" + c.optimizer + "' is not one of adam, sgd");
  if (!(c.lr > 0)) throw InputError("--lr", "", "learning rate must be positive");
  if (c.threads < 1) throw InputError("--threads", "", "needs at least 1 thread");
  if (!(c.timeout_s > 0)) throw InputError("--timeout", "", "must be positive seconds");
  BatchSource probe(c.model, c.data, c.batch, c.seq, m, c.seed);  // reads and checks the data
  c.data_description = probe.description();
}

}  // namespace pipekit
