#include "planner/schedules/weight_placement.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <queue>
#include <stdexcept>
#include <tuple>

namespace pipekit {
namespace {

class Placer {
 public:
  Placer(Schedule& s, const std::vector<int>& cap, const ZeroBubbleCosts& c, bool fit_only)
      : s_(s), cap_(cap), fit_only_(fit_only), S_(s.num_stages), M_(s.num_microbatches), P_(s.num_ranks) {
    const ZeroBubbleCosts full = costs_per_stage(c, s);
    f_ = full.f, i_ = full.i, w_ = full.w, msg_ = full.message;
    backbone_ = s.actions;
    const std::size_t cells = static_cast<std::size_t>(S_) * M_;
    doneF_.assign(cells, -1);
    doneI_.assign(cells, -1);
    pc_.assign(P_, 0);
    t_.assign(P_, 0);
    pending_.assign(P_, 0);
    queue_.resize(P_);
    waiting_.assign(P_, false);
    for (auto& l : s_.actions) l.clear();
  }

  void run() {
    for (int r = 0; r < P_; ++r) heap_.emplace(0, r);
    while (!heap_.empty()) {
      const int r = heap_.top().second;
      heap_.pop();
      decide(r);
    }
    for (int r = 0; r < P_; ++r)
      if (pc_[r] < backbone_[r].size() || !queue_[r].empty())
        throw std::logic_error("weight placement: the F/I order cannot finish");
  }

 private:
  std::size_t at(int st, int mb) const { return static_cast<std::size_t>(st) * M_ + mb; }

  // When the inputs of `a` are there; -1 while their producer has not run.
  std::int64_t ready(const Action& a) const {
    if (a.type == ActionType::F) {
      if (a.stage == 0) return 0;
      const std::int64_t d = doneF_[at(a.stage - 1, a.microbatch)];
      return d < 0 ? -1 : d + msg_[a.stage - 1];
    }
    if (a.stage + 1 == S_) return doneF_[at(a.stage, a.microbatch)];
    const std::int64_t d = doneI_[at(a.stage + 1, a.microbatch)];
    return d < 0 ? -1 : d + msg_[a.stage];
  }

  void run_weight(int r) {
    const Action w = queue_[r].front();
    queue_[r].pop_front();
    t_[r] += w_[w.stage];
    --pending_[r];
    s_.actions[r].push_back(w);
    heap_.emplace(t_[r], r);
  }

  void run_action(int r, const Action& a, std::int64_t start) {
    t_[r] = std::max(t_[r], start) + (a.type == ActionType::F ? f_[a.stage] : i_[a.stage]);
    if (a.type == ActionType::F) {
      doneF_[at(a.stage, a.microbatch)] = t_[r];
      ++pending_[r];
    } else {
      doneI_[at(a.stage, a.microbatch)] = t_[r];
      queue_[r].push_back(Action{a.stage, ActionType::W, a.microbatch});
    }
    s_.actions[r].push_back(a);
    ++pc_[r];
    heap_.emplace(t_[r], r);
    // Whoever waited for an unknown input may now know when it arrives.
    for (int q = 0; q < P_; ++q)
      if (waiting_[q]) {
        waiting_[q] = false;
        heap_.emplace(t_[q], q);
      }
  }

  void decide(int r) {
    if (pc_[r] == backbone_[r].size()) {
      if (!queue_[r].empty()) run_weight(r);
      return;
    }
    const Action& a = backbone_[r][pc_[r]];
    const bool have_w = !queue_[r].empty();
    if (a.type == ActionType::F && have_w && pending_[r] >= cap_[r]) return run_weight(r);
    const std::int64_t d = ready(a);
    if (d >= 0 && d <= t_[r]) return run_action(r, a, t_[r]);
    if (have_w && (!fit_only_ || d < 0 || t_[r] + w_[queue_[r].front().stage] <= d)) return run_weight(r);
    if (d >= 0) return run_action(r, a, d);
    waiting_[r] = true;
  }

  Schedule& s_;
  const std::vector<int>& cap_;
  bool fit_only_;
  int S_, M_, P_;
  std::vector<std::int64_t> f_, i_, w_, msg_;
  std::vector<std::vector<Action>> backbone_;
  std::vector<std::int64_t> doneF_, doneI_, t_;
  std::vector<std::size_t> pc_;
  std::vector<int> pending_;
  std::vector<std::deque<Action>> queue_;
  std::vector<bool> waiting_;
  std::priority_queue<std::pair<std::int64_t, int>, std::vector<std::pair<std::int64_t, int>>, std::greater<>>
      heap_;
};

}  // namespace

void place_weight_gradients(Schedule& frame, const std::vector<int>& cap, const ZeroBubbleCosts& costs,
                            bool fit_only) {
  Placer(frame, cap, costs, fit_only).run();
}

int max_awaiting_input_grad(const Schedule& s, int rank) {
  int cur = 0, best = 0;
  for (const Action& a : s.actions[rank]) {
    if (a.type == ActionType::F) best = std::max(best, ++cur);
    if (a.type == ActionType::I || a.type == ActionType::B) --cur;
  }
  return best;
}

}  // namespace pipekit
