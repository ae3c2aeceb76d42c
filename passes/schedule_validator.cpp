#include "passes/schedule_validator.h"

#include <fmt/format.h>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace pipekit {
namespace {

// Per-(type, stage, micro-batch) bookkeeping for the nine micro-batch action
// types (F B I W R SEND_F RECV_F SEND_B RECV_B, the first enum values).
constexpr int kCellTypes = 9;
constexpr int kElsewhere = -2;  // first occurrence sits on a rank that does not own the stage

int type_index(ActionType t) {
  return static_cast<int>(t);
}

class Validator {
 public:
  explicit Validator(const Schedule& s) : s_(s) {}

  std::vector<ScheduleViolation> run() {
    check_shape();
    if (!shape_ok_) return std::move(out_);
    scan_actions();
    check_cells();
    replay();
    return std::move(out_);
  }

 private:
  void report(int rank, int pos, const Action& a, std::string msg) {
    out_.push_back(ScheduleViolation{rank, pos, a, std::move(msg)});
  }
  std::size_t cell(int stage, int mb) const { return static_cast<std::size_t>(stage) * M_ + mb; }
  std::size_t slot(ActionType t, std::size_t c) const {
    return static_cast<std::size_t>(type_index(t)) * cells_ + c;
  }
  std::uint8_t count(ActionType t, int st, int mb) const { return count_[slot(t, cell(st, mb))]; }
  int pos(ActionType t, int st, int mb) const { return pos_[slot(t, cell(st, mb))]; }
  bool remote(int a, int b) const { return a >= 0 && b >= 0 && a < S_ && b < S_ && owner_[a] != owner_[b]; }

  void check_shape() {
    P_ = static_cast<int>(s_.actions.size());
    S_ = s_.num_stages;
    M_ = s_.num_microbatches;
    if (s_.num_ranks != P_)
      report(-1, -1, {}, fmt::format("num_ranks is {} but the schedule has {} rank lists", s_.num_ranks, P_));
    if (S_ < 0 || M_ < 0) {
      report(-1, -1, {}, fmt::format("negative counts: {} stages, {} micro-batches", S_, M_));
      shape_ok_ = false;
      return;
    }
    owner_.assign(S_, -1);
    if (static_cast<int>(s_.stage_to_rank.size()) == S_) {
      for (int st = 0; st < S_; ++st) {
        int r = s_.stage_to_rank[st];
        if (r < 0 || r >= P_)
          report(-1, -1, Action{st, ActionType::STEP, -1},
                 fmt::format("stage_to_rank puts stage {} on rank {}, which does not exist "
                             "(ranks 0..{})",
                             st, r, P_ - 1));
        else
          owner_[st] = r;
      }
    } else {
      report(-1, -1, {},
             fmt::format("stage_to_rank has {} entries for {} stages; placing each "
                         "stage on the first rank that mentions it",
                         s_.stage_to_rank.size(), S_));
      for (int r = 0; r < P_; ++r)
        for (const Action& a : s_.actions[r])
          if (a.stage >= 0 && a.stage < S_ && owner_[a.stage] < 0) owner_[a.stage] = r;
    }
    std::size_t n = s_.action_count();
    cells_ = static_cast<std::size_t>(S_) * static_cast<std::size_t>(M_);
    if (cells_ > 8 * n + (1u << 20)) {
      report(-1, -1, {},
             fmt::format("{} stages x {} micro-batches but only {} actions: every "
                         "stage must run every micro-batch; the numbering is too "
                         "sparse to check further",
                         S_, M_, n));
      shape_ok_ = false;
      return;
    }
    count_.assign(cells_ * kCellTypes, 0);
    pos_.assign(cells_ * kCellTypes, -1);
  }

  void scan_actions() {
    lowered_ = s_.lowered();
    for (int r = 0; r < P_; ++r) {
      const auto& list = s_.actions[r];
      for (int i = 0; i < static_cast<int>(list.size()); ++i) {
        const Action& a = list[i];
        if (a.stage < 0 || a.stage >= S_) {
          report(r, i, a, fmt::format("stage {} is out of range (stages 0..{})", a.stage, S_ - 1));
          continue;
        }
        bool misplaced = owner_[a.stage] != r;
        if (misplaced && owner_[a.stage] >= 0)
          report(r, i, a,
                 fmt::format("stage {} lives on rank {} (stage_to_rank), not on rank {}", a.stage,
                             owner_[a.stage], r));
        if (is_step_level(a.type)) {
          if (a.microbatch != -1)
            report(r, i, a, "step-level actions (STEP, REDUCE_GRAD) carry no micro-batch");
          continue;
        }
        if (a.microbatch < 0 || a.microbatch >= M_) {
          report(r, i, a, fmt::format("micro-batch {} is out of range (0..{})", a.microbatch, M_ - 1));
          continue;
        }
        std::size_t k = slot(a.type, cell(a.stage, a.microbatch));
        if (count_[k] > 0) {
          std::string where = pos_[k] >= 0 ? fmt::format("position {}", pos_[k]) : "another rank";
          report(r, i, a, fmt::format("duplicate: {} already runs at {}", to_string(a), where));
        } else {
          pos_[k] = misplaced ? kElsewhere : i;
        }
        if (count_[k] < 255) ++count_[k];

        if (a.type == ActionType::R) {
          bool ok = i + 1 < static_cast<int>(list.size()) && list[i + 1].stage == a.stage &&
                    list[i + 1].microbatch == a.microbatch &&
                    (list[i + 1].type == ActionType::B || list[i + 1].type == ActionType::I);
          if (!ok)
            report(r, i, a,
                   fmt::format("a recompute must come right before the backward ({}B{} or "
                               "{}I{}) it serves",
                               a.stage, a.microbatch, a.stage, a.microbatch));
        }
        check_comm_peer(r, i, a);
      }
    }
  }

  // A SEND/RECV must join this stage to a neighbour on another rank.
  void check_comm_peer(int r, int i, const Action& a) {
    int peer = -1;
    switch (a.type) {
      case ActionType::SEND_F:
        peer = a.stage + 1;
        break;
      case ActionType::RECV_F:
        peer = a.stage - 1;
        break;
      case ActionType::SEND_B:
        peer = a.stage - 1;
        break;
      case ActionType::RECV_B:
        peer = a.stage + 1;
        break;
      default:
        return;
    }
    if (peer < 0 || peer >= S_)
      report(r, i, a, fmt::format("stage {} has no neighbour stage {} to exchange with", a.stage, peer));
    else if (!remote(a.stage, peer))
      report(r, i, a,
             fmt::format("stages {} and {} are both on rank {}; they exchange no messages", a.stage, peer,
                         owner_[a.stage]));
  }

  void missing(int st, ActionType t, int mb, const std::string& msg) {
    report(owner_[st], -1, Action{st, t, mb}, msg);
  }

  // `first` must run before `second` on the same rank (both present there).
  void order(int st, int mb, ActionType first, ActionType second, const char* why) {
    int a = pos(first, st, mb), b = pos(second, st, mb);
    if (a < 0 || b < 0 || a < b) return;
    report(owner_[st], b, Action{st, second, mb},
           fmt::format("{} runs before {} (position {}); {}", to_string(Action{st, second, mb}),
                       to_string(Action{st, first, mb}), a, why));
  }

  void check_cells() {
    using T = ActionType;
    for (int st = 0; st < S_; ++st) {
      if (owner_[st] < 0) continue;  // already reported
      for (int mb = 0; mb < M_; ++mb) {
        int nF = count(T::F, st, mb), nB = count(T::B, st, mb), nI = count(T::I, st, mb),
            nW = count(T::W, st, mb);
        if (nF == 0) missing(st, T::F, mb, "missing: the forward of every micro-batch must run once");
        if (nB > 0 && (nI > 0 || nW > 0)) {
          report(owner_[st], pos(nI > 0 ? T::I : T::W, st, mb), Action{st, nI > 0 ? T::I : T::W, mb},
                 "a micro-batch has both a full backward B and a split backward I/W; use one");
        } else if (nB == 0) {
          if (nI == 0 && nW == 0)
            missing(st, T::B, mb, "missing: every micro-batch needs a backward (a B, or an I and a W)");
          else if (nI == 0)
            missing(st, T::I, mb, "missing: a W (weight gradient) needs its I (input gradient) first");
          else if (nW == 0)
            missing(st, T::W, mb, "missing: an I (input gradient) needs its W (weight gradient) too");
        }
        order(st, mb, T::F, T::B, "the forward must come first");
        order(st, mb, T::F, T::I, "the forward must come first");
        order(st, mb, T::F, T::R, "the forward must come first");
        order(st, mb, T::I, T::W, "the input gradient (I) must come before the weight gradient (W)");
        if (lowered_) check_cell_comm(st, mb);
      }
    }
  }

  void check_cell_comm(int st, int mb) {
    using T = ActionType;
    const bool has_bwd = count(T::B, st, mb) + count(T::I, st, mb) > 0;
    const T bwd = count(T::B, st, mb) > 0 ? T::B : T::I;
    if (remote(st, st + 1)) {
      if (count(T::F, st, mb) > 0 && count(T::SEND_F, st, mb) == 0)
        missing(
            st, T::SEND_F, mb,
            fmt::format("missing: stage {} is on rank {}; its output must be sent", st + 1, owner_[st + 1]));
      order(st, mb, T::F, T::SEND_F, "an activation is sent after the forward that makes it");
      if (has_bwd && count(T::RECV_B, st, mb) == 0)
        missing(st, T::RECV_B, mb,
                fmt::format("missing: the gradient from stage {} (rank {}) must be "
                            "received before the backward",
                            st + 1, owner_[st + 1]));
      order(st, mb, T::RECV_B, bwd, "the gradient must be received before the backward");
    }
    if (remote(st, st - 1)) {
      if (count(T::F, st, mb) > 0 && count(T::RECV_F, st, mb) == 0)
        missing(st, T::RECV_F, mb,
                fmt::format("missing: the activation from stage {} (rank {}) must "
                            "be received before the forward",
                            st - 1, owner_[st - 1]));
      order(st, mb, T::RECV_F, T::F, "the activation must be received before the forward");
      if (has_bwd && count(T::SEND_B, st, mb) == 0)
        missing(st, T::SEND_B, mb,
                fmt::format("missing: stage {} (rank {}) needs this gradient sent", st - 1, owner_[st - 1]));
      order(st, mb, bwd, T::SEND_B, "a gradient is sent after the backward that makes it");
    }
  }

  // ---- dependency replay -------------------------------------------------

  // The action `a` waits for, or nullopt-like {stage -1} when it waits for nothing.
  bool dependency(const Action& a, Action& dep) const {
    using T = ActionType;
    if (a.stage < 0 || a.stage >= S_ || is_step_level(a.type) || a.microbatch < 0 || a.microbatch >= M_)
      return false;
    const int st = a.stage, mb = a.microbatch;
    switch (a.type) {
      case T::F:
        if (st == 0) return false;
        // A receive is only posted; the forward waits for the message itself.
        if (lowered_ && remote(st - 1, st) && count(T::SEND_F, st - 1, mb) > 0) {
          dep = Action{st - 1, T::SEND_F, mb};
          return true;
        }
        if (count(T::F, st - 1, mb) == 0) return false;
        dep = Action{st - 1, T::F, mb};
        return true;
      case T::B:
      case T::I:
        if (st + 1 >= S_) return false;
        if (lowered_ && remote(st + 1, st) && count(T::SEND_B, st + 1, mb) > 0)
          dep = Action{st + 1, T::SEND_B, mb};
        else if (count(T::B, st + 1, mb) > 0)
          dep = Action{st + 1, T::B, mb};
        else if (count(T::I, st + 1, mb) > 0)
          dep = Action{st + 1, T::I, mb};
        else
          return false;
        return true;
      default:
        return false;
    }
  }

  bool done(const Action& a) const { return done_[slot(a.type, cell(a.stage, a.microbatch))]; }

  // Runs rank r as far as it can; returns true if it moved.
  bool advance(int r) {
    const auto& list = s_.actions[r];
    bool moved = false;
    while (pc_[r] < list.size()) {
      const Action& a = list[pc_[r]];
      Action dep;
      if (dependency(a, dep) && !done(dep)) break;
      if (!is_step_level(a.type) && a.stage >= 0 && a.stage < S_ && a.microbatch >= 0 && a.microbatch < M_) {
        std::size_t k = slot(a.type, cell(a.stage, a.microbatch));
        if (!done_[k]) {
          done_[k] = 1;
          // Wake the rank that normally consumes this result.
          int consumer = -1;
          if (a.type == ActionType::F || a.type == ActionType::SEND_F) consumer = a.stage + 1;
          if (a.type == ActionType::B || a.type == ActionType::I || a.type == ActionType::SEND_B)
            consumer = a.stage - 1;
          if (consumer >= 0 && consumer < S_ && owner_[consumer] >= 0 && owner_[consumer] != r)
            work_.push_back(owner_[consumer]);
        }
      }
      ++pc_[r];
      moved = true;
    }
    return moved;
  }

  void replay() {
    done_.assign(cells_ * kCellTypes, 0);
    pc_.assign(P_, 0);
    for (int r = 0; r < P_; ++r) work_.push_back(r);
    for (;;) {
      while (!work_.empty()) {
        int r = work_.back();
        work_.pop_back();
        advance(r);
      }
      // Actions misplaced on a foreign rank are not woken above; one sweep catches them.
      bool moved = false;
      for (int r = 0; r < P_; ++r) moved = advance(r) || moved;
      if (!moved) break;
    }
    bool stuck = false;
    for (int r = 0; r < P_; ++r) stuck = stuck || pc_[r] < s_.actions[r].size();
    if (!stuck) return;
    std::string finished;
    for (int r = 0; r < P_; ++r)
      if (pc_[r] >= s_.actions[r].size()) finished += (finished.empty() ? "" : ", ") + std::to_string(r);
    for (int r = 0; r < P_; ++r) {
      if (pc_[r] >= s_.actions[r].size()) continue;
      const Action& a = s_.actions[r][pc_[r]];
      Action dep;
      dependency(a, dep);
      int dep_rank = dep.stage >= 0 && dep.stage < S_ ? owner_[dep.stage] : -1;
      std::string state;
      if (dep_rank < 0) {
        state = "which no rank holds";
      } else if (pc_[dep_rank] >= s_.actions[dep_rank].size()) {
        state = fmt::format("rank {} has finished its list without it", dep_rank);
      } else {
        int p = pos(dep.type, dep.stage, dep.microbatch);
        state = fmt::format("on rank {}{}, which is itself blocked at position {} on {}", dep_rank,
                            p >= 0 ? fmt::format(" at position {}", p) : std::string(), pc_[dep_rank],
                            to_string(s_.actions[dep_rank][pc_[dep_rank]]));
      }
      report(r, static_cast<int>(pc_[r]), a,
             fmt::format("deadlock: rank {} is blocked on {}, waiting for {} {}{}", r, to_string(a),
                         to_string(dep), state,
                         finished.empty() ? std::string() : fmt::format(" (finished ranks: {})", finished)));
    }
  }

  const Schedule& s_;
  std::vector<ScheduleViolation> out_;
  bool shape_ok_ = true, lowered_ = false;
  int P_ = 0, S_ = 0, M_ = 0;
  std::size_t cells_ = 0;
  std::vector<int> owner_;
  std::vector<std::uint8_t> count_;
  std::vector<int> pos_;
  std::vector<std::uint8_t> done_;
  std::vector<std::size_t> pc_;
  std::vector<int> work_;
};

}  // namespace

std::vector<ScheduleViolation> validate_schedule(const Schedule& s) {
  return Validator(s).run();
}

std::string format_violations(const std::vector<ScheduleViolation>& v) {
  std::string out;
  for (const auto& x : v) {
    if (x.rank < 0)
      out += "schedule: ";
    else if (x.position < 0)
      out += fmt::format("rank {}, missing, {}: ", x.rank, to_string(x.action));
    else
      out += fmt::format("rank {}, position {}, {}: ", x.rank, x.position, to_string(x.action));
    out += x.message;
    out += '\n';
  }
  return out;
}

std::vector<std::string> fifo_order_mismatches(const Schedule& s) {
  // (from rank, to rank, direction) -> (boundary stage, micro-batch) in posting order.
  using Channel = std::tuple<int, int, int>;
  std::map<Channel, std::vector<std::pair<int, int>>> sent, received;
  auto rank_of = [&](int stage) { return stage >= 0 && stage < s.num_stages ? s.stage_to_rank[stage] : -1; };
  for (int r = 0; r < static_cast<int>(s.actions.size()); ++r)
    for (const Action& a : s.actions[r]) {
      switch (a.type) {
        case ActionType::SEND_F:
          sent[{r, rank_of(a.stage + 1), 0}].emplace_back(a.stage, a.microbatch);
          break;
        case ActionType::RECV_F:
          received[{rank_of(a.stage - 1), r, 0}].emplace_back(a.stage - 1, a.microbatch);
          break;
        case ActionType::SEND_B:
          sent[{r, rank_of(a.stage - 1), 1}].emplace_back(a.stage - 1, a.microbatch);
          break;
        case ActionType::RECV_B:
          received[{rank_of(a.stage + 1), r, 1}].emplace_back(a.stage, a.microbatch);
          break;
        default:
          break;
      }
    }
  std::vector<std::string> out;
  auto describe = [](const std::vector<std::pair<int, int>>& v, std::size_t i, int dir) {
    if (i >= v.size()) return std::string("nothing");
    // Name the message by the stage that sends it.
    const int stage = dir == 0 ? v[i].first : v[i].first + 1;
    return std::to_string(stage) + (dir == 0 ? "F" : "B") + std::to_string(v[i].second);
  };
  std::set<Channel> keys;
  for (auto& [k, v] : sent) keys.insert(k);
  for (auto& [k, v] : received) keys.insert(k);
  for (const Channel& k : keys) {
    const auto& a = sent[k];
    const auto& b = received[k];
    if (a == b) continue;
    std::size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    const auto [from, to, dir] = k;
    out.push_back("rank " + std::to_string(from) + " -> rank " + std::to_string(to) +
                  (dir == 0 ? " (activations)" : " (gradients)") + ": message " + std::to_string(i + 1) +
                  " is sent as " + describe(a, i, dir) + " but received as " + describe(b, i, dir));
  }
  return out;
}

}  // namespace pipekit
