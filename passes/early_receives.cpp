#include "passes/early_receives.h"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

namespace pipekit {

Schedule post_receives_early(const Schedule& lowered, int lookahead) {
  if (lookahead < 0) throw std::invalid_argument("post_receives_early: lookahead must be >= 0");
  Schedule out = lowered;
  if (lookahead == 0) return out;
  const auto ahead = static_cast<std::size_t>(lookahead);
  for (auto& list : out.actions) {
    // Each action's place: its own position, or for a receive the position of
    // the lookahead-th compute action before it, where it goes first. A stable
    // sort keeps both orders, as that position never decreases along the list.
    std::vector<std::pair<std::size_t, int>> place(list.size());  // (position, receive ? 0 : 1)
    std::vector<std::size_t> computes;
    for (std::size_t q = 0; q < list.size(); ++q) {
      const ActionType t = list[q].type;
      if (t == ActionType::RECV_F || t == ActionType::RECV_B)
        place[q] = {computes.size() >= ahead ? computes[computes.size() - ahead] : 0, 0};
      else
        place[q] = {q, 1};
      if (is_compute(t)) computes.push_back(q);
    }
    std::vector<std::size_t> order(list.size());
    for (std::size_t q = 0; q < order.size(); ++q) order[q] = q;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return place[a] < place[b]; });
    std::vector<Action> moved;
    moved.reserve(list.size());
    for (std::size_t q : order) moved.push_back(list[q]);
    list = std::move(moved);
  }
  return out;
}

}  // namespace pipekit
