#include "core/error.h"
#include "core/formats.h"
#include "core/json_node.h"

namespace pipekit {

nlohmann::ordered_json cluster_json_value(const Cluster& c) {
  nlohmann::ordered_json j;
  j["device_name"] = c.device_name;
  j["device_memory_bytes"] = c.device_memory_bytes;
  auto& levels = j["levels"] = nlohmann::ordered_json::array();
  for (const auto& l : c.levels)
    levels.push_back(
        {{"count", l.count}, {"bandwidth_bytes_per_s", l.bandwidth_bytes_per_s}, {"latency_s", l.latency_s}});
  return j;
}

Cluster cluster_from_node(const JsonNode& node) {
  Cluster c;
  if (auto v = node.find("device_name")) c.device_name = v->string();
  if (auto v = node.find("device_memory_bytes")) c.device_memory_bytes = v->integer();
  JsonNode levels = node.at("levels");
  for (std::size_t i = 0; i < levels.size(); ++i) {
    JsonNode l = levels.item(i);
    l.only_keys({"count", "bandwidth_bytes_per_s", "latency_s"});
    ClusterLevel level;
    level.count = l.at("count").int32();
    level.bandwidth_bytes_per_s = l.at("bandwidth_bytes_per_s").number();
    if (auto v = l.find("latency_s")) level.latency_s = v->number();
    c.levels.push_back(level);
  }
  return c;
}

std::string cluster_to_json(const Cluster& c) {
  nlohmann::ordered_json j;
  j["format"] = "pipekit-cluster/1";
  j.update(cluster_json_value(c));
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Cluster cluster_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  check_format(root, "cluster", 1);
  Cluster c = cluster_from_node(root);
  validate(c, source);
  return c;
}

}  // namespace pipekit
