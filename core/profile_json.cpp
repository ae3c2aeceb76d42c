#include <fmt/format.h>

#include "core/error.h"
#include "core/formats.h"
#include "core/json_node.h"

namespace pipekit {

std::string profile_to_json(const Profile& p) {
  nlohmann::ordered_json j;
  j["format"] = "pipekit-profile/1";
  j["model"] = p.model;
  j["device"] = p.device;
  j["dtype"] = p.dtype;
  j["microbatch_size"] = p.microbatch_size;
  j["seq_len"] = p.seq_len;
  j["input_bytes"] = p.input_bytes;
  if (!p.optimizer.empty()) j["optimizer"] = p.optimizer;
  if (p.weight_copy_bytes_per_s > 0) j["weight_copy_bytes_per_s"] = p.weight_copy_bytes_per_s;
  auto& layers = j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : p.layers) {
    nlohmann::ordered_json o;
    o["name"] = l.name;
    o["kind"] = l.kind;
    if (!l.description.empty()) o["description"] = l.description;
    o["forward_ms"] = l.forward_ms;
    o["backward_ms"] = l.backward_ms;
    if (l.input_grad_ms) o["input_grad_ms"] = *l.input_grad_ms;
    if (l.weight_grad_ms) o["weight_grad_ms"] = *l.weight_grad_ms;
    o["param_bytes"] = l.param_bytes;
    o["output_bytes"] = l.output_bytes;
    o["saved_bytes"] = l.saved_bytes;
    o["workspace_bytes"] = l.workspace_bytes;
    if (l.step_ms) o["step_ms"] = *l.step_ms;
    layers.push_back(std::move(o));
  }
  if (!p.edges.empty()) {
    auto& e = j["edges"] = nlohmann::ordered_json::array();
    for (auto [a, b] : p.edges) e.push_back({a, b});
  }
  if (!p.meta.empty()) j["meta"] = p.meta;
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Profile profile_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  check_format(root, "profile", 1);
  Profile p;
  p.model = root.at("model").string();
  if (auto v = root.find("device")) p.device = v->string();
  if (auto v = root.find("dtype")) p.dtype = v->string();
  if (auto v = root.find("microbatch_size")) p.microbatch_size = v->int32();
  if (auto v = root.find("seq_len")) p.seq_len = v->int32();
  if (auto v = root.find("input_bytes")) p.input_bytes = v->integer();
  if (auto v = root.find("optimizer")) p.optimizer = v->string();
  if (auto v = root.find("weight_copy_bytes_per_s")) p.weight_copy_bytes_per_s = v->number();
  JsonNode layers = root.at("layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    JsonNode o = layers.item(i);
    o.only_keys({"name", "kind", "description", "forward_ms", "backward_ms", "input_grad_ms",
                 "weight_grad_ms", "param_bytes", "output_bytes", "saved_bytes", "workspace_bytes",
                 "step_ms"});
    Layer l;
    l.name = o.at("name").string();
    if (auto v = o.find("kind")) l.kind = v->string();
    if (auto v = o.find("description")) l.description = v->string();
    l.forward_ms = o.at("forward_ms").number();
    l.backward_ms = o.at("backward_ms").number();
    if (auto v = o.find("input_grad_ms")) l.input_grad_ms = v->number();
    if (auto v = o.find("weight_grad_ms")) l.weight_grad_ms = v->number();
    l.param_bytes = o.at("param_bytes").integer();
    l.output_bytes = o.at("output_bytes").integer();
    if (auto v = o.find("saved_bytes"))
      l.saved_bytes = v->integer();
    else
      l.saved_bytes = l.output_bytes;
    if (auto v = o.find("workspace_bytes")) l.workspace_bytes = v->integer();
    if (auto v = o.find("step_ms")) l.step_ms = v->number();
    p.layers.push_back(std::move(l));
  }
  if (auto e = root.find("edges")) {
    for (std::size_t i = 0; i < e->size(); ++i) {
      JsonNode pair = e->item(i);
      if (pair.size() != 2) pair.fail("an edge is [producer, consumer]");
      p.edges.emplace_back(pair.item(0).int32(), pair.item(1).int32());
    }
  }
  if (auto m = root.find("meta")) {
    m->expect_object();
    for (auto it = m->raw().begin(); it != m->raw().end(); ++it)
      p.meta[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  validate(p, source);
  return p;
}

}  // namespace pipekit
