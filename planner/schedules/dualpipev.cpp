#include "planner/schedules/dualpipev.h"

#include <fmt/format.h>

#include <deque>

#include "core/error.h"
#include "planner/schedules/schedule_building.h"
#include "planner/schedules/zero_bubble_search.h"

namespace pipekit {
namespace {

// One rank's list, built phase by phase.
class RankOrder {
 public:
  RankOrder(std::vector<Action>& out, int rank, int p) : out_(out), stage_{rank, 2 * p - 1 - rank} {}

  void forward(int chunk) { out_.push_back(Action{stage_[chunk], ActionType::F, f_[chunk]++}); }
  // I now; its W now, or queued when `defer`.
  void backward(int chunk, bool defer) {
    const Action w{stage_[chunk], ActionType::W, b_[chunk]};
    out_.push_back(Action{stage_[chunk], ActionType::I, b_[chunk]++});
    if (defer)
      queued_.push_back(w);
    else
      out_.push_back(w);
  }
  void weight_step() {
    out_.push_back(queued_.front());
    queued_.pop_front();
  }

 private:
  std::vector<Action>& out_;
  int stage_[2];
  int f_[2] = {0, 0}, b_[2] = {0, 0};
  std::deque<Action> queued_;
};

}  // namespace

Schedule generate_dualpipev(const ScheduleSpec& spec, int num_ranks) {
  const int p = num_ranks, m = spec.microbatches;
  if (m < 2 * p)
    throw InputError("--microbatches", "",
                     fmt::format("dualpipev needs at least 2p = {} micro-batches on {} ranks, got {}: its "
                                 "warm-up sends 2p micro-batches into the V before the first backward; pass "
                                 "--microbatches {} or more, or use --schedule zbv",
                                 2 * p, p, m, 2 * p));
  for (int r = 0; r < p; ++r)
    if (spec.cost_hint.cap(r) > 0 && spec.cost_hint.cap(r) < 2 * p + 1)
      throw InputError("--memory", "",
                       fmt::format("dualpipev holds 2p + 1 = {} chunk-forwards on every rank (its order is "
                                   "fixed), but rank {} may hold only {}; raise the memory limit or use "
                                   "--schedule zb-interleaved or zb-auto, which follow a cap",
                                   2 * p + 1, r, spec.cost_hint.cap(r)));
  check_cost_hint(spec.cost_hint, p, 2, "dualpipev");
  Schedule s = make_schedule_frame("dualpipev", p, 2, m);
  for (int r = 0; r < p; ++r) {
    auto& list = s.actions[r];
    list.reserve(6 * static_cast<std::size_t>(m) + 2);
    RankOrder o(list, r, p);
    const int down = p - r - 1;  // ranks after this one on the way down the V
    for (int i = 0; i < 2 * down; ++i) o.forward(0);
    for (int i = 0; i <= r; ++i) {
      o.forward(0);
      o.forward(1);
    }
    for (int i = 0; i < down; ++i) {
      o.backward(1, true);
      o.weight_step();
      o.forward(1);
    }
    for (int i = 0; i < m - 2 * p + r + 1; ++i) {
      o.forward(0);
      o.backward(1, false);
      o.forward(1);
      o.backward(0, false);
    }
    for (int i = 0; i < down; ++i) {
      o.backward(1, false);
      o.forward(1);
      o.backward(0, false);
    }
    bool defer = false;
    for (int i = 0; i <= r; ++i) {
      if (i == (r + 1) / 2 && r % 2 == 1) defer = true;
      o.backward(1, defer);
      if (i == (r + 1) / 2 && r % 2 == 0) defer = true;
      o.backward(0, defer);
    }
    for (int i = 0; i < down; ++i) {
      o.weight_step();
      o.backward(0, true);
    }
    for (int i = 0; i <= r; ++i) o.weight_step();
  }
  insert_recompute(s, spec.recompute);
  append_flush_steps(s);
  return s;
}

}  // namespace pipekit
