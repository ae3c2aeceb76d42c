#include "simulator/early_receives.h"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace pipekit {

Schedule post_receives_early(const Schedule& lowered, int lookahead) {
  if (lookahead < 0) throw std::invalid_argument("post_receives_early: lookahead must be >= 0");
  Schedule out = lowered;
  if (lookahead == 0) return out;
  const auto ahead = static_cast<std::size_t>(lookahead);
  for (auto& list : out.actions) {
    // Sort key of each action: (position it goes before, receives first, its own position).
    // Other actions keep their position; a receive takes that of the
    // lookahead-th compute action before it. Both orders are kept because
    // that position never decreases along the list.
    std::vector<std::tuple<std::size_t, int, std::size_t>> key(list.size());
    std::vector<std::size_t> computes;
    for (std::size_t q = 0; q < list.size(); ++q) {
      const ActionType t = list[q].type;
      if (t == ActionType::RECV_F || t == ActionType::RECV_B)
        key[q] = {computes.size() >= ahead ? computes[computes.size() - ahead] : 0, 0, q};
      else
        key[q] = {q, 1, q};
      if (is_compute(t)) computes.push_back(q);
    }
    std::vector<std::size_t> order(list.size());
    for (std::size_t q = 0; q < order.size(); ++q) order[q] = q;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
    std::vector<Action> moved;
    moved.reserve(list.size());
    for (std::size_t q : order) moved.push_back(list[q]);
    list = std::move(moved);
  }
  return out;
}

}  // namespace pipekit
