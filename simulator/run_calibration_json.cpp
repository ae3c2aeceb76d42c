#include "simulator/run_calibration_json.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_node.h"

namespace pipekit {
namespace {

using Json = nlohmann::ordered_json;

std::vector<double> numbers(const JsonNode& n, const char* key) {
  std::vector<double> out;
  if (auto a = n.find(key))
    for (std::size_t i = 0; i < a->size(); ++i) out.push_back(a->item(i).number());
  return out;
}

double number(const JsonNode& n, const char* key) {
  auto v = n.find(key);
  return v ? v->number() : 0.0;
}

}  // namespace

std::string calibration_to_json(const RunCalibration& c) {
  Json j;
  j["format"] = "pipekit-calibration/1";
  j["cpu"] = c.cpu;
  j["nccl"] = c.nccl;
  j["link_latency_s"] = c.link_latency_s;
  j["link_bandwidth_bytes_per_s"] = c.link_bandwidth_bytes_per_s;
  j["message_bytes"] = c.message_bytes;
  j["message_cpu_s"] = c.message_cpu_s;
  j["loaded_delay_s"] = c.loaded_delay_s;
  j["loaded_transport_cpu_s"] = c.loaded_transport_cpu_s;
  j["end_cpu_fitted"] = c.end_cpu_fitted;
  j["end_cpu_base_s"] = c.end_cpu_base_s;
  j["end_cpu_per_byte_s"] = c.end_cpu_per_byte_s;
  j["receive_wait_s"] = c.receive_wait_s;
  j["optimizer_step_ms"] = c.optimizer_step_ms;
  j["weight_copy_bytes_per_s"] = c.weight_copy_bytes_per_s;
  j["host_staging_bytes_per_s"] = c.host_staging_bytes_per_s;
  Json groups = Json::array();
  for (const auto& d : c.shared)
    groups.push_back({{"ranks", d.ranks}, {"capacity", d.capacity}, {"step_capacity", d.step_capacity}});
  j["shared"] = groups;
  j["delay_samples_s"] = c.delay_samples_s;
  j["receive_wait_samples_s"] = c.receive_wait_samples_s;
  j["compute_noise"] = c.compute_noise;
  Json speed = Json::array();
  for (std::size_t i = 0; i < c.speed_series.size(); ++i)
    speed.push_back({{"sample_ms", c.speed_sample_ms.at(i)}, {"relative_times", c.speed_series[i]}});
  j["speed_series"] = speed;
  return j.dump(1) + "\n";
}

RunCalibration calibration_from_json(std::string_view text, const std::string& source) {
  const nlohmann::json doc = parse_json_text(text, source);
  JsonNode root(doc, "$", source);
  root.expect_object();
  const nlohmann::json* body = &doc;
  std::string path = "$";
  if (auto f = root.find("format"); f && f->string().rfind("pipekit-sim-vs-real/", 0) == 0) {
    auto cal = root.find("calibration");
    auto model = cal ? cal->find("model") : std::nullopt;
    if (!model)
      root.fail(
          "this --compare result has no calibration.model (written before pipekit recorded it); "
          "run `pipekit run ... --compare` again");
    body = &model->raw();
    path = model->path();
  }
  JsonNode n(*body, path, source);
  check_format(n, "calibration", 1);
  RunCalibration c;
  if (auto v = n.find("cpu")) c.cpu = v->boolean();
  if (auto v = n.find("nccl")) c.nccl = v->boolean();
  c.link_latency_s = number(n, "link_latency_s");
  c.link_bandwidth_bytes_per_s = number(n, "link_bandwidth_bytes_per_s");
  if (auto v = n.find("message_bytes")) c.message_bytes = v->integer();
  c.message_cpu_s = number(n, "message_cpu_s");
  c.loaded_delay_s = number(n, "loaded_delay_s");
  c.loaded_transport_cpu_s = number(n, "loaded_transport_cpu_s");
  if (auto v = n.find("end_cpu_fitted")) c.end_cpu_fitted = v->boolean();
  c.end_cpu_base_s = number(n, "end_cpu_base_s");
  c.end_cpu_per_byte_s = number(n, "end_cpu_per_byte_s");
  c.receive_wait_s = number(n, "receive_wait_s");
  c.optimizer_step_ms = number(n, "optimizer_step_ms");
  c.weight_copy_bytes_per_s = number(n, "weight_copy_bytes_per_s");
  c.host_staging_bytes_per_s = number(n, "host_staging_bytes_per_s");
  if (auto g = n.find("shared"))
    for (std::size_t i = 0; i < g->size(); ++i) {
      const JsonNode e = g->item(i);
      SharedDevice d;
      const JsonNode rs = e.at("ranks");
      for (std::size_t k = 0; k < rs.size(); ++k) d.ranks.push_back(rs.item(k).int32());
      d.capacity = e.at("capacity").number();
      if (auto sc = e.find("step_capacity")) d.step_capacity = sc->number();
      if (!(d.capacity > 0)) e.at("capacity").fail("a shared device's capacity must be positive");
      c.shared.push_back(std::move(d));
    }
  c.delay_samples_s = numbers(n, "delay_samples_s");
  c.receive_wait_samples_s = numbers(n, "receive_wait_samples_s");
  c.compute_noise = numbers(n, "compute_noise");
  if (auto s = n.find("speed_series"))
    for (std::size_t i = 0; i < s->size(); ++i) {
      const JsonNode e = s->item(i);
      const JsonNode ms = e.at("sample_ms");
      if (!(ms.number() > 0)) ms.fail("a speed series' sample_ms must be positive");
      const JsonNode t = e.at("relative_times");
      if (t.size() == 0) t.fail("a speed series needs at least one sample");
      std::vector<double> v;
      for (std::size_t k = 0; k < t.size(); ++k) {
        if (!(t.item(k).number() > 0)) t.item(k).fail("relative times must be positive");
        v.push_back(t.item(k).number());
      }
      c.speed_series.push_back(std::move(v));
      c.speed_sample_ms.push_back(ms.number());
    }
  for (const char* key : {"delay_samples_s", "receive_wait_samples_s", "compute_noise"})
    if (auto a = n.find(key))
      for (std::size_t i = 0; i < a->size(); ++i)
        if (a->item(i).number() < 0) a->item(i).fail("samples must be >= 0");
  return c;
}

}  // namespace pipekit
