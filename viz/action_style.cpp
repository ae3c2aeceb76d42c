#include "viz/action_style.h"

#include <fmt/format.h>

#include <cstdio>

namespace pipekit {

const ActionStyle& action_style(ActionType t) {
  static const ActionStyle styles[kActionTypeCount] = {
      {"#4f81bd", "#ffffff", "forward F"},        {"#5aa05a", "#ffffff", "backward B"},
      {"#8cc97a", "#1d3d14", "backward input I"}, {"#9c7bc4", "#ffffff", "backward weight W"},
      {"#f2a541", "#3d2500", "recompute R"},      {"#7f9fbf", "#ffffff", "send activation"},
      {"#7f9fbf", "#ffffff", "recv activation"},  {"#8fb98f", "#ffffff", "send gradient"},
      {"#8fb98f", "#ffffff", "recv gradient"},    {"#c0504d", "#ffffff", "all-reduce grads"},
      {"#555555", "#ffffff", "optimizer step"},
  };
  return styles[static_cast<int>(t)];
}

std::string chunk_fill(ActionType t, int chunk) {
  const char* hex = action_style(t).fill;
  if (chunk % 2 == 0) return hex;
  unsigned r = 0, g = 0, b = 0;
  std::sscanf(hex, "#%02x%02x%02x", &r, &g, &b);
  return fmt::format("#{:02x}{:02x}{:02x}", r * 7 / 10, g * 7 / 10, b * 7 / 10);
}

}  // namespace pipekit
