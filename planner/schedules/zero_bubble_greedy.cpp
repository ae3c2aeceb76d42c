#include "planner/schedules/zero_bubble_greedy.h"

#include <algorithm>
#include <queue>
#include <stdexcept>
#include <tuple>

namespace pipekit {
namespace {

struct Candidate {
  std::int64_t start = -1;  // -1: nothing ready
  int priority = 0;         // 0 F, 1 I, 2 W
  int stage = 0;
  ActionType type = ActionType::F;

  bool better_than(const Candidate& o) const {
    if (o.start < 0) return true;
    return std::tuple(start, priority, -stage) < std::tuple(o.start, o.priority, -o.stage);
  }
};

class Greedy {
 public:
  Greedy(Schedule& s, const ZeroBubbleLimits& lim, const ZeroBubbleCosts& c)
      : s_(s), lim_(lim), S_(s.num_stages), m_(s.num_microbatches), p_(s.num_ranks) {
    nF_.assign(S_, 0);
    nI_.assign(S_, 0);
    nW_.assign(S_, 0);
    const std::size_t cells = static_cast<std::size_t>(S_) * m_;
    doneF_.assign(cells, -1);
    doneI_.assign(cells, -1);
    free_.assign(p_, 0);
    inflW_.assign(p_, 0);
    inflI_.assign(p_, 0);
    commit_.assign(p_, 0);
    version_.assign(p_, 0);
    cand_.assign(p_, Candidate{});
    stages_of_.resize(p_);
    for (int st = 0; st < S_; ++st) stages_of_[s.stage_to_rank[st]].push_back(st);
    const ZeroBubbleCosts full = costs_per_stage(c, s);
    f_ = full.f, i_ = full.i, w_ = full.w, msg_ = full.message;
    for (auto& l : s_.actions) {
      l.clear();
      l.reserve(3 * static_cast<std::size_t>(m_) * (S_ / std::max(p_, 1)));
    }
  }

  void run() {
    for (int r = 0; r < p_; ++r) refresh(r);
    const std::size_t total = 3 * static_cast<std::size_t>(S_) * m_;
    std::size_t done = 0;
    while (done < total) {
      if (heap_.empty()) throw std::logic_error("zero-bubble list scheduler: no rank can proceed");
      auto [neg_start, neg_rank, ver] = heap_.top();
      heap_.pop();
      int r = static_cast<int>(-neg_rank);
      if (ver != version_[r]) continue;
      execute(r, cand_[r]);
      ++done;
    }
  }

 private:
  using Entry = std::tuple<std::int64_t, std::int64_t, std::uint64_t>;  // -start, -rank, version

  std::size_t at(int stage, int mb) const { return static_cast<std::size_t>(stage) * m_ + mb; }

  void refresh(int r) {
    Candidate best;
    const std::int64_t t = free_[r];
    const int limI = lim_.awaiting_input_grad.empty() ? 0 : lim_.awaiting_input_grad[r];
    for (int st : stages_of_[r]) {
      if (nI_[st] < nF_[st]) {
        int k = nI_[st];
        std::int64_t dep = st == S_ - 1 ? doneF_[at(st, k)] : doneI_[at(st + 1, k)];
        if (dep >= 0) {
          Candidate c{std::max(t, dep), 1, st, ActionType::I};
          if (c.better_than(best)) best = c;
        }
      }
      if (nF_[st] < m_ && may_start_forward(r, st, limI)) {
        int k = nF_[st];
        std::int64_t dep = st == 0 ? 0 : doneF_[at(st - 1, k)];
        if (st > 0 && dep >= 0) dep += msg_[st - 1];
        if (dep >= 0) {
          Candidate c{std::max(t, dep), 0, st, ActionType::F};
          if (c.better_than(best)) best = c;
        }
      }
      if (nW_[st] < nI_[st]) {
        Candidate c{t, 2, st, ActionType::W};
        if (c.better_than(best)) best = c;
      }
    }
    ++version_[r];
    cand_[r] = best;
    if (best.start >= 0) heap_.emplace(-best.start, -static_cast<std::int64_t>(r), version_[r]);
  }

  bool may_start_forward(int r, int st, int limI) const {
    if (!lim_.reserve_chunks) return inflW_[r] < lim_.in_flight[r] && (limI <= 0 || inflI_[r] < limI);
    // Later chunks of an admitted micro-batch had their slots reserved.
    if (st != stages_of_[r].front()) return true;
    const int v = static_cast<int>(stages_of_[r].size());
    return commit_[r] + v <= lim_.in_flight[r] && (limI <= 0 || inflI_[r] < limI);
  }

  void execute(int r, Candidate c) {  // by value: refresh(r) overwrites cand_[r]
    const int st = c.stage;
    int mb = 0;
    switch (c.type) {
      case ActionType::F:
        mb = nF_[st]++;
        doneF_[at(st, mb)] = free_[r] = c.start + f_[st];
        ++inflW_[r];
        if (!lim_.reserve_chunks || st == stages_of_[r].front()) ++inflI_[r];
        if (st == stages_of_[r].front()) commit_[r] += static_cast<int>(stages_of_[r].size());
        break;
      case ActionType::I:
        mb = nI_[st]++;
        doneI_[at(st, mb)] = free_[r] = c.start + i_[st];
        if (!lim_.reserve_chunks || st == stages_of_[r].front()) --inflI_[r];
        break;
      default:
        mb = nW_[st]++;
        free_[r] = c.start + w_[st];
        --inflW_[r];
        --commit_[r];
        break;
    }
    s_.actions[r].push_back(Action{st, c.type, mb});
    refresh(r);
    if (c.type == ActionType::F && st + 1 < S_ && s_.stage_to_rank[st + 1] != r)
      refresh(s_.stage_to_rank[st + 1]);
    if (c.type == ActionType::I && st > 0 && s_.stage_to_rank[st - 1] != r) refresh(s_.stage_to_rank[st - 1]);
  }

  Schedule& s_;
  const ZeroBubbleLimits& lim_;
  std::vector<std::int64_t> f_, i_, w_, msg_;
  int S_, m_, p_;
  std::vector<int> nF_, nI_, nW_;
  std::vector<std::int64_t> doneF_, doneI_, free_;
  std::vector<int> inflW_, inflI_, commit_;  // commit_: chunk-forwards reserved and not yet W'd
  std::vector<std::uint64_t> version_;
  std::vector<Candidate> cand_;
  std::vector<std::vector<int>> stages_of_;
  std::priority_queue<Entry> heap_;
};

}  // namespace

ZeroBubbleCosts costs_per_stage(const ZeroBubbleCosts& c, const Schedule& frame) {
  const int stages = frame.num_stages;
  auto per_stage = [](const std::vector<std::int64_t>& v, std::int64_t unit, int n) {
    std::vector<std::int64_t> out(static_cast<std::size_t>(std::max(n, 0)), unit);
    for (int k = 0; k < n && k < static_cast<int>(v.size()); ++k) out[k] = v[k];
    return out;
  };
  ZeroBubbleCosts out{per_stage(c.f, 1, stages), per_stage(c.i, 1, stages), per_stage(c.w, 1, stages),
                      per_stage(c.message, 0, stages - 1)};
  // A message only costs between ranks.
  for (int st = 0; st + 1 < stages; ++st)
    if (frame.stage_to_rank[st] == frame.stage_to_rank[st + 1]) out.message[st] = 0;
  return out;
}

void fill_zero_bubble_order(Schedule& frame, const ZeroBubbleLimits& limits, const ZeroBubbleCosts& costs) {
  Greedy(frame, limits, costs).run();
}

}  // namespace pipekit
