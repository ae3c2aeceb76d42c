// Test support: a list of actions as the text its tests compare against ("0F0 0SEND_F0 ...").
#pragma once

#include <string>
#include <vector>

#include "core/action.h"

namespace pipekit::test {

inline std::string action_names(const std::vector<Action>& v) {
  std::string out;
  for (const Action& a : v) out += (out.empty() ? "" : " ") + to_string(a);
  return out;
}

}  // namespace pipekit::test
