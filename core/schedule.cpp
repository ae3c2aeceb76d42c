#include "core/schedule.h"

#include <fmt/format.h>
#include <algorithm>

#include "core/error.h"

namespace pipekit {

bool Schedule::lowered() const {
  for (const auto& rank : actions)
    for (const auto& a : rank)
      if (is_comm(a.type)) return true;
  return false;
}

std::size_t Schedule::action_count() const {
  std::size_t n = 0;
  for (const auto& rank : actions) n += rank.size();
  return n;
}

std::string format_schedule_text(const Schedule& s) {
  std::string out;
  for (std::size_t r = 0; r < s.actions.size(); ++r) {
    out += fmt::format("rank {}:", r);
    for (const auto& a : s.actions[r]) out += " " + to_string(a);
    out += '\n';
  }
  return out;
}

void infer_schedule_shape(Schedule& s, const std::string& source) {
  s.num_ranks = static_cast<int>(s.actions.size());
  int max_stage = -1, max_mb = -1;
  for (const auto& rank : s.actions)
    for (const auto& a : rank) {
      max_stage = std::max(max_stage, a.stage);
      max_mb = std::max(max_mb, a.microbatch);
    }
  // Indices size the per-stage tables below; refuse absurd ones instead of allocating gigabytes.
  constexpr int kMaxStages = 1 << 20, kMaxMicrobatches = 1 << 24;
  if (max_stage >= kMaxStages)
    throw InputError(source, "",
                     fmt::format("stage index {} is too large (at most {} stages)", max_stage, kMaxStages));
  if (max_mb >= kMaxMicrobatches)
    throw InputError(source, "",
                     fmt::format("micro-batch index {} is too large (at most {} micro-batches)", max_mb,
                                 kMaxMicrobatches));
  s.num_stages = max_stage + 1;
  s.num_microbatches = max_mb + 1;
  s.stage_to_rank.assign(s.num_stages, -1);
  for (int r = 0; r < s.num_ranks; ++r)
    for (const auto& a : s.actions[r]) {
      // Communication tokens name the local stage too, so every action places its stage.
      int& owner = s.stage_to_rank[a.stage];
      if (owner == -1) owner = r;
      if (owner != r)
        throw InputError(source, fmt::format("rank {}", r),
                         fmt::format("stage {} appears on rank {} and on rank {}; a stage must "
                                     "live on one rank",
                                     a.stage, owner, r));
    }
  for (int st = 0; st < s.num_stages; ++st)
    if (s.stage_to_rank[st] == -1)
      throw InputError(source, "", fmt::format("stage {} has no actions on any rank", st));
}

namespace {
std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\r')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

Action parse_token(std::string_view tok, const std::string& source, int line, int col) {
  auto a = parse_action(tok);
  if (!a)
    throw InputError(source, fmt::format("line {}, item {}", line, col),
                     fmt::format("'{}' is not an action; expected {{stage}}{{TYPE}}{{microbatch}} "
                                 "such as 0F3 or 1SEND_B2 (TYPE one of F B I W R SEND_F RECV_F "
                                 "SEND_B RECV_B, or REDUCE_GRAD/STEP without a micro-batch)",
                                 tok));
  return *a;
}
}  // namespace

Schedule parse_schedule_text(std::string_view text, const std::string& source) {
  Schedule s;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    if (line.substr(0, 5) == "rank ") {
      auto colon = line.find(':');
      if (colon == std::string_view::npos)
        throw InputError(source, fmt::format("line {}", line_no), "expected 'rank R: actions...'");
      std::string_view num = trim(line.substr(5, colon - 5));
      std::size_t expect = s.actions.size();
      if (num != std::to_string(expect))
        throw InputError(
            source, fmt::format("line {}", line_no),
            fmt::format("ranks must be listed in order; expected rank {}, found '{}'", expect, num));
      line = trim(line.substr(colon + 1));
    }
    std::vector<Action> rank;
    int col = 0;
    std::size_t p = 0;
    while (p < line.size()) {
      while (p < line.size() && line[p] == ' ') ++p;
      std::size_t e = line.find(' ', p);
      if (e == std::string_view::npos) e = line.size();
      if (e > p) rank.push_back(parse_token(line.substr(p, e - p), source, line_no, ++col));
      p = e;
    }
    s.actions.push_back(std::move(rank));
  }
  if (s.actions.empty()) throw InputError(source, "", "schedule has no ranks");
  infer_schedule_shape(s, source);
  return s;
}

std::string format_schedule_csv(const Schedule& s) {
  std::string out;
  for (const auto& rank : s.actions) {
    for (std::size_t i = 0; i < rank.size(); ++i) {
      if (i) out += ',';
      out += to_string(rank[i]);
    }
    out += "\r\n";  // Python's csv.writer default line terminator
  }
  return out;
}

Schedule parse_schedule_csv(std::string_view text, const std::string& source) {
  Schedule s;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<Action> rank;
    int col = 0;
    std::size_t p = 0;
    while (p <= line.size()) {
      std::size_t e = line.find(',', p);
      if (e == std::string_view::npos) e = line.size();
      ++col;
      std::string_view cell = trim(line.substr(p, e - p));
      if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"')
        cell = cell.substr(1, cell.size() - 2);
      if (!cell.empty() && cell != "None") rank.push_back(parse_token(cell, source, line_no, col));
      p = e + 1;
    }
    s.actions.push_back(std::move(rank));
  }
  if (s.actions.empty()) throw InputError(source, "", "schedule CSV has no rows (one row per rank expected)");
  infer_schedule_shape(s, source);
  return s;
}

}  // namespace pipekit
