#include <fmt/format.h>

#include "core/error.h"
#include "core/formats.h"
#include "core/json_node.h"

namespace pipekit {

std::string schedule_to_json(const Schedule& s) {
  nlohmann::ordered_json j;
  j["format"] = "pipekit-schedule/1";
  j["kind"] = s.kind;
  j["num_ranks"] = s.num_ranks;
  j["num_stages"] = s.num_stages;
  j["num_microbatches"] = s.num_microbatches;
  j["stage_to_rank"] = s.stage_to_rank;
  auto& ranks = j["actions"] = nlohmann::ordered_json::array();
  for (const auto& rank : s.actions) {
    auto row = nlohmann::ordered_json::array();
    for (const auto& a : rank) row.push_back(to_string(a));
    ranks.push_back(std::move(row));
  }
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Schedule schedule_from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  check_format(root, "schedule", 1);
  Schedule s;
  if (auto v = root.find("kind")) s.kind = v->string();
  JsonNode ranks = root.at("actions");
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    JsonNode row = ranks.item(r);
    std::vector<Action> acts;
    for (std::size_t i = 0; i < row.size(); ++i) {
      JsonNode cell = row.item(i);
      auto a = parse_action(cell.string());
      if (!a) cell.fail(fmt::format("'{}' is not an action such as 0F3 or 1SEND_B2", cell.string()));
      acts.push_back(*a);
    }
    s.actions.push_back(std::move(acts));
  }
  if (s.actions.empty()) root.fail("schedule has no ranks");
  infer_schedule_shape(s, source);
  // Explicit fields must agree with the actions; a stage may be placed with no actions only
  // if the file says so, so take stage_to_rank and counts from the file when present.
  if (auto v = root.find("num_microbatches")) {
    int m = v->int32();
    if (m > (1 << 24)) v->fail("too many micro-batches (at most 16777216)");
    if (m < s.num_microbatches)
      v->fail(fmt::format("says {} micro-batches but actions use {}", m, s.num_microbatches));
    s.num_microbatches = m;
  }
  if (auto v = root.find("stage_to_rank")) {
    std::vector<int> placed;
    for (std::size_t i = 0; i < v->size(); ++i) {
      int r = v->item(i).int32();
      if (r < 0 || r >= s.num_ranks) v->item(i).fail(fmt::format("rank {} does not exist", r));
      placed.push_back(r);
    }
    for (std::size_t st = 0; st < s.stage_to_rank.size(); ++st)
      if (st >= placed.size() || placed[st] != s.stage_to_rank[st])
        v->fail(fmt::format("stage {} is placed differently from where its actions run", st));
    s.stage_to_rank = placed;
    s.num_stages = static_cast<int>(placed.size());
  }
  return s;
}

}  // namespace pipekit
