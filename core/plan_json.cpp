#include <fmt/format.h>

#include "core/error.h"
#include "core/formats.h"
#include "core/json_node.h"

namespace pipekit {

std::string plan_to_json(const Plan& p) {
  nlohmann::ordered_json j;
  j["format"] = "pipekit-plan/1";
  j["model"] = p.model;
  j["profile"] = p.profile_path;
  j["microbatch_size"] = p.microbatch_size;
  j["cost_model"] = p.cost_model;
  j["precision"] = to_string(p.precision);
  auto& stages = j["stages"] = nlohmann::ordered_json::array();
  for (const auto& s : p.stages)
    stages.push_back({{"layers", s.layers}, {"replicas", s.replicas}, {"ranks", s.ranks}});
  j["schedule"] = {{"kind", p.schedule.kind},
                   {"microbatches", p.schedule.microbatches},
                   {"virtual_stages", p.schedule.virtual_stages},
                   {"recompute", to_string(p.schedule.recompute)},
                   {"minibatches", p.schedule.minibatches}};
  // Written only when present, so plans without costs read as before.
  const ScheduleCostHint& h = p.schedule.cost_hint;
  if (!h.empty()) {
    auto& hint = j["schedule"]["cost_hint"] = nlohmann::ordered_json::object();
    if (h.has_costs()) {
      hint["forward_ms"] = h.forward_ms;
      hint["input_grad_ms"] = h.input_grad_ms;
      hint["weight_grad_ms"] = h.weight_grad_ms;
    }
    if (!h.message_ms.empty()) hint["message_ms"] = h.message_ms;
    if (!h.max_pending_backward.empty()) hint["max_pending_backward"] = h.max_pending_backward;
  }
  if (!p.schedule.recompute_stages.empty()) {
    std::vector<int> mask;
    for (bool b : p.schedule.recompute_stages) mask.push_back(b ? 1 : 0);
    j["schedule"]["recompute_stages"] = mask;
  }
  j["cluster"] = cluster_json_value(p.cluster);
  j["predicted"] = p.predicted;
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Plan plan_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  check_format(root, "plan", 1);
  Plan p;
  if (auto v = root.find("model")) p.model = v->string();
  if (auto v = root.find("profile")) p.profile_path = v->string();
  if (auto v = root.find("microbatch_size")) p.microbatch_size = v->int32();
  if (auto v = root.find("cost_model")) p.cost_model = v->string();
  if (auto v = root.find("precision"))
    if (!precision_from_string(v->string(), p.precision))
      v->fail(fmt::format("precision is '{}'; use fp32, bf16 or fp16", v->string()));
  JsonNode stages = root.at("stages");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    JsonNode s = stages.item(i);
    s.only_keys({"layers", "replicas", "ranks"});
    PlanStage st;
    JsonNode layers = s.at("layers");
    for (std::size_t k = 0; k < layers.size(); ++k) st.layers.push_back(layers.item(k).int32());
    if (auto v = s.find("replicas")) st.replicas = v->int32();
    JsonNode ranks = s.at("ranks");
    for (std::size_t k = 0; k < ranks.size(); ++k) st.ranks.push_back(ranks.item(k).int32());
    p.stages.push_back(std::move(st));
  }
  JsonNode sched = root.at("schedule");
  sched.only_keys({"kind", "microbatches", "virtual_stages", "recompute", "minibatches", "cost_hint",
                   "recompute_stages"});
  p.schedule.kind = sched.at("kind").string();
  p.schedule.microbatches = sched.at("microbatches").int32();
  if (auto v = sched.find("virtual_stages")) p.schedule.virtual_stages = v->int32();
  if (auto v = sched.find("minibatches")) p.schedule.minibatches = v->int32();
  if (auto v = sched.find("recompute")) {
    if (!recompute_from_string(v->string(), p.schedule.recompute))
      v->fail(fmt::format("recompute is '{}'; use never, except_last or always", v->string()));
  }
  if (auto h = sched.find("cost_hint")) {
    h->only_keys({"forward_ms", "input_grad_ms", "weight_grad_ms", "message_ms", "max_pending_backward"});
    auto numbers = [&](const char* key, std::vector<double>& out) {
      if (auto a = h->find(key))
        for (std::size_t k = 0; k < a->size(); ++k) out.push_back(a->item(k).number());
    };
    ScheduleCostHint& hint = p.schedule.cost_hint;
    numbers("forward_ms", hint.forward_ms);
    numbers("input_grad_ms", hint.input_grad_ms);
    numbers("weight_grad_ms", hint.weight_grad_ms);
    numbers("message_ms", hint.message_ms);
    if (auto a = h->find("max_pending_backward"))
      for (std::size_t k = 0; k < a->size(); ++k) hint.max_pending_backward.push_back(a->item(k).int32());
  }
  if (auto v = sched.find("recompute_stages")) {
    for (std::size_t k = 0; k < v->size(); ++k) {
      const int b = v->item(k).int32();
      if (b != 0 && b != 1) v->item(k).fail("recompute_stages entries are 0 or 1");
      p.schedule.recompute_stages.push_back(b == 1);
    }
    if (p.schedule.recompute_stages.size() != p.stages.size())
      v->fail(fmt::format("{} recompute_stages entries for {} stages; give one per stage",
                          p.schedule.recompute_stages.size(), p.stages.size()));
  }
  if (auto c = root.find("cluster")) {
    p.cluster = cluster_from_node(*c);
    validate(p.cluster, source);
  }
  if (auto pr = root.find("predicted")) {
    pr->expect_object();
    for (auto it = pr->raw().begin(); it != pr->raw().end(); ++it)
      p.predicted[it.key()] = JsonNode(*it, pr->path() + "." + it.key(), source).number();
  }
  validate(p, source);
  return p;
}

}  // namespace pipekit
