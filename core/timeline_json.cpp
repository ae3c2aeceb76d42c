#include <fmt/format.h>

#include "core/error.h"
#include "core/formats.h"
#include "core/json_node.h"

namespace pipekit {

std::string timeline_to_json(const Timeline& t) {
  nlohmann::ordered_json j;
  j["format"] = "pipekit-timeline/1";
  j["source"] = t.source;
  j["schedule"] = t.schedule;
  j["num_ranks"] = t.num_ranks;
  j["num_stages"] = t.num_stages;
  j["num_microbatches"] = t.num_microbatches;
  j["virtual_stages"] = t.virtual_stages;
  j["step_time_ms"] = t.step_time_ms;
  j["device_memory_bytes"] = t.device_memory_bytes;
  if (!t.meta.empty()) j["meta"] = t.meta;
  auto& ev = j["events"] = nlohmann::ordered_json::array();
  for (const auto& e : t.events) {
    nlohmann::ordered_json o = {{"rank", e.rank},
                                {"stream", to_string(e.stream)},
                                {"action", to_string(e.action)},
                                {"start_ms", e.start_ms},
                                {"end_ms", e.end_ms}};
    if (e.peer >= 0) o["peer"] = e.peer;
    if (e.bytes > 0) o["bytes"] = e.bytes;
    if (e.weight_version >= 0) o["weight_version"] = e.weight_version;
    if (e.work_ms >= 0) o["work_ms"] = e.work_ms;
    ev.push_back(std::move(o));
  }
  auto& mem = j["memory"] = nlohmann::ordered_json::array();
  for (const auto& m : t.memory)
    mem.push_back({{"rank", m.rank},
                   {"time_ms", m.time_ms},
                   {"weights", m.weights},
                   {"master", m.master},
                   {"gradients", m.gradients},
                   {"optimizer", m.optimizer},
                   {"activations", m.activations},
                   {"buffers", m.buffers}});
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Timeline timeline_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  check_format(root, "timeline", 1);
  Timeline t;
  if (auto v = root.find("source")) t.source = v->string();
  if (auto v = root.find("schedule")) t.schedule = v->string();
  t.num_ranks = root.at("num_ranks").int32();
  if (auto v = root.find("num_stages")) t.num_stages = v->int32();
  if (auto v = root.find("num_microbatches")) t.num_microbatches = v->int32();
  if (auto v = root.find("virtual_stages")) t.virtual_stages = v->int32();
  t.step_time_ms = root.at("step_time_ms").number();
  if (auto v = root.find("device_memory_bytes")) t.device_memory_bytes = v->integer();
  if (auto m = root.find("meta")) {
    m->expect_object();
    for (auto it = m->raw().begin(); it != m->raw().end(); ++it)
      t.meta[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  JsonNode events = root.at("events");
  t.events.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    JsonNode o = events.item(i);
    o.only_keys(
        {"rank", "stream", "action", "start_ms", "end_ms", "peer", "bytes", "weight_version", "work_ms"});
    TimelineEvent e;
    e.rank = o.at("rank").int32();
    JsonNode stream = o.at("stream");
    if (!stream_from_string(stream.string(), e.stream))
      stream.fail(fmt::format("stream '{}' is not compute, send or recv", stream.string()));
    JsonNode action = o.at("action");
    auto a = parse_action(action.string());
    if (!a) action.fail(fmt::format("'{}' is not an action such as 0F3", action.string()));
    e.action = *a;
    e.start_ms = o.at("start_ms").number();
    e.end_ms = o.at("end_ms").number();
    if (auto v = o.find("peer")) e.peer = v->int32();
    if (auto v = o.find("bytes")) e.bytes = v->integer();
    if (auto v = o.find("weight_version")) e.weight_version = v->int32();
    if (auto v = o.find("work_ms")) {
      e.work_ms = v->number();
      if (!(e.work_ms >= 0)) v->fail("work_ms must be >= 0 (processor time of the compute event)");
    }
    t.events.push_back(e);
  }
  if (auto mem = root.find("memory")) {
    for (std::size_t i = 0; i < mem->size(); ++i) {
      JsonNode o = mem->item(i);
      o.only_keys(
          {"rank", "time_ms", "weights", "master", "gradients", "optimizer", "activations", "buffers"});
      MemorySample m;
      m.rank = o.at("rank").int32();
      m.time_ms = o.at("time_ms").number();
      if (auto v = o.find("weights")) m.weights = v->integer();
      if (auto v = o.find("master")) m.master = v->integer();
      if (auto v = o.find("gradients")) m.gradients = v->integer();
      if (auto v = o.find("optimizer")) m.optimizer = v->integer();
      if (auto v = o.find("activations")) m.activations = v->integer();
      if (auto v = o.find("buffers")) m.buffers = v->integer();
      t.memory.push_back(m);
    }
  }
  validate(t, source);
  return t;
}

}  // namespace pipekit
