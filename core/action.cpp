#include "core/action.h"

#include <array>
#include <charconv>

namespace pipekit {
namespace {
constexpr std::array<std::string_view, kActionTypeCount> kNames = {
    "F", "B", "I", "W", "R", "SEND_F", "RECV_F", "SEND_B", "RECV_B", "REDUCE_GRAD", "STEP"};

bool parse_int(std::string_view s, int& out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{};
}
}  // namespace

std::string_view to_string(ActionType t) {
  return kNames[static_cast<int>(t)];
}

std::optional<ActionType> action_type_from_string(std::string_view s) {
  for (int i = 0; i < kActionTypeCount; ++i)
    if (kNames[i] == s) return static_cast<ActionType>(i);
  return std::nullopt;
}

bool is_compute(ActionType t) {
  return t <= ActionType::R;
}
bool is_comm(ActionType t) {
  return t >= ActionType::SEND_F && t <= ActionType::RECV_B;
}
bool is_step_level(ActionType t) {
  return t == ActionType::REDUCE_GRAD || t == ActionType::STEP;
}
bool is_backward(ActionType t) {
  return t == ActionType::B || t == ActionType::I || t == ActionType::W;
}

std::string to_string(const Action& a) {
  std::string s = std::to_string(a.stage);
  s += to_string(a.type);
  if (!is_step_level(a.type)) s += std::to_string(a.microbatch);
  return s;
}

std::optional<Action> parse_action(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  Action a;
  if (!parse_int(text.substr(0, i), a.stage)) return std::nullopt;
  std::size_t j = i;
  while (j < text.size() && (text[j] < '0' || text[j] > '9')) ++j;
  auto type = action_type_from_string(text.substr(i, j - i));
  if (!type) return std::nullopt;
  a.type = *type;
  std::string_view rest = text.substr(j);
  if (is_step_level(a.type)) {
    if (!rest.empty()) return std::nullopt;
    a.microbatch = -1;
  } else if (!parse_int(rest, a.microbatch)) {
    return std::nullopt;
  }
  return a;
}

}  // namespace pipekit
