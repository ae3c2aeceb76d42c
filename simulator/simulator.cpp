#include "simulator/simulator.h"

#include <fmt/format.h>
#include <algorithm>

#include "core/error.h"
#include "core/timeline_meta.h"

namespace pipekit {
namespace {

constexpr double kUnknown = -1.0;  // a time not known yet (all real times are >= 0)

// v[r][k], or `fallback` where the table has no such entry (short or empty rows).
double at(const std::vector<std::vector<double>>& v, int r, std::size_t k, double fallback) {
  if (static_cast<std::size_t>(r) >= v.size() || k >= v[r].size()) return fallback;
  return v[r][k];
}

// One change of a dynamic memory term on a rank.
// The term rides in the lowest bit of `code` (code = amount * 2 + term) to keep
// a delta at 16 bytes; the sign of code is the sign of amount.
enum class Term : std::uint8_t { activations = 0, buffers = 1 };
struct Delta {
  double t;
  std::int64_t code;
  std::int64_t amount() const { return code >> 1; }
  Term term() const { return static_cast<Term>(code & 1); }
};
Delta delta(double t, std::int64_t amount, Term term) {
  return {t, amount * 2 + static_cast<int>(term)};
}

// A transfer holds `bytes` of buffer on both ends from start to end.
struct Transfer {
  double start, end;
  std::int64_t bytes;
};

// Yields (time, signed amount) in time order from either a rank's compute-stream
// deltas or a link's transfers (start: +bytes, end: -bytes).
struct DeltaCursor {
  const Delta* d = nullptr;
  const Delta* d_end = nullptr;
  const Transfer* x = nullptr;
  const Transfer* x_end = nullptr;
  bool at_end = false;  // transfers: the current item is x->end
  double t = 0;
  std::int64_t code = 0;
  bool valid = false;
  void load() {
    if (d) {
      valid = d != d_end;
      if (valid) t = d->t, code = d->code;
    } else {
      valid = x != x_end;
      if (valid) t = at_end ? x->end : x->start, code = (at_end ? -x->bytes : x->bytes) * 2 + 1;
    }
  }
  void advance() {
    if (d)
      ++d;
    else if (at_end)
      ++x, at_end = false;
    else
      at_end = true;
    load();
  }
};

// One direction of a link. Its transfers run one after another, so the buffer
// deltas it causes on either end come out in time order: the memory sweep merges
// these few sorted streams per rank instead of sorting.
struct Link {
  int peer;
  double free_ms;
  std::vector<Transfer> transfers;  // with a duration; disjoint, in time order
};

bool before(const Delta& x, const Delta& y) {
  return x.t < y.t || (x.t == y.t && x.code < 0 && y.code >= 0);
}

// What an action costs before weight copies and sharing: its stage's cost of
// that kind (0 for transfers, which links time).
double duration_ms(const StageCost& c, ActionType t, double step_ms) {
  switch (t) {
    case ActionType::F:
      return c.forward_ms;
    case ActionType::B:
      return c.backward_ms;
    case ActionType::I:
      return c.input_grad_ms;
    case ActionType::W:
      return c.weight_grad_ms;
    case ActionType::R:
      return c.recompute_ms;
    case ActionType::REDUCE_GRAD:
      return c.allreduce_ms;
    case ActionType::STEP:
      return c.step_ms >= 0 ? c.step_ms : step_ms;
    default:
      return 0;
  }
}

class Engine {
 public:
  Engine(const Schedule& sch, const StageCosts& costs, const Cluster& cluster, const SimOptions& opt)
      : sch_(sch), costs_(costs), cluster_(cluster), opt_(opt) {}

  SimulationResult run();

 private:
  int idx(int s, int mb) const { return s * M_ + mb; }
  int device(int r) const { return opt_.rank_device.empty() ? r : opt_.rank_device[r]; }
  void check_shape();
  bool step_rank(int r);                            // runs rank r until it blocks or ends; false when blocked
  double ready_time(int r, const Action& a) const;  // kUnknown when blocked
  std::string wait_reason(int r, const Action& a) const;
  double transfer(int from, int to, std::int64_t bytes, double ready, const Action& send, const Action& recv);
  // What the message posted by action k of rank r costs its receiver after it starts waiting.
  double receive_wait(int r, std::size_t k) const {
    return at(opt_.receive_wait_draw_ms, r, k, opt_.receive_wait_ms);
  }
  void wake(int stage) {
    int q = rank_of_[stage];
    if (blocked_[q]) {
      blocked_[q] = 0;
      work_.push_back(q);
    }
  }
  void mem(int r, double t, Term term, std::int64_t amount) {
    if (amount != 0) deltas_[r].push_back(delta(t, amount, term));
  }
  [[noreturn]] void deadlock() const;
  void finish_metrics(SimulationResult& res);

  const Schedule& sch_;
  const StageCosts& costs_;
  const Cluster& cluster_;
  const SimOptions& opt_;
  std::vector<std::vector<std::pair<double, double>>> times_;  // record_action_times
  std::vector<int> loaded_;  // async: the weight version each stage last computed with
  int P_ = 0, S_ = 0, M_ = 0;
  bool lowered_ = false, async_ = false;
  const ScheduleTraits* traits_ = nullptr;
  std::vector<int> rank_of_;
  std::vector<double> msg_ms_;  // per stage: message overhead added to each F, B and I
  std::vector<char> has_w_, has_r_;
  // Everything known about one (stage, micro-batch), together for locality.
  struct Cell {
    double f_done = kUnknown;   // end of F
    double bi_done = kUnknown;  // end of B or I
    double act_at = kUnknown;   // the stage's input activation is on its rank
    double grad_at = kUnknown;  // the gradient of its output is on its rank
    // A message from another rank costs its receiver this long after it starts
    // waiting, however early it was sent (SimOptions::receive_wait_ms).
    double act_wait = 0, grad_wait = 0;
    int version = -1;  // weight version its forward used
    char act_posted = 0, grad_posted = 0, w_done = 0;
  };
  std::vector<Cell> cell_;
  std::vector<int> steps_done_;
  std::vector<double> mb_done_;  // latest final-backward end of each micro-batch
  std::vector<std::size_t> pc_;
  std::vector<double> clock_, busy_, first_start_, last_end_;
  std::vector<char> blocked_;
  std::vector<int> inflight_, peak_inflight_;  // forwards whose last backward has not ended
  std::vector<int> work_;
  std::vector<std::vector<Link>> links_;
  std::vector<std::vector<Delta>> deltas_;
  double makespan_ = 0;
  Timeline tl_;
};

void Engine::check_shape() {
  P_ = static_cast<int>(sch_.actions.size());
  if (P_ < 1) throw InputError("schedule", "", "the schedule has no ranks");
  int max_stage = -1, max_mb = -1;
  for (int r = 0; r < P_; ++r)
    for (const Action& a : sch_.actions[r]) {
      if (a.stage < 0)
        throw InputError("schedule", fmt::format("rank {}", r),
                         fmt::format("{} has a negative stage", to_string(a)));
      max_stage = std::max(max_stage, a.stage);
      max_mb = std::max(max_mb, a.microbatch);
      lowered_ = lowered_ || is_comm(a.type);
    }
  S_ = std::max(max_stage + 1, sch_.num_stages);
  M_ = std::max(max_mb + 1, 1);
  if (static_cast<long long>(S_) * M_ > (1LL << 28))
    throw InputError(
        "schedule", "",
        fmt::format("{} stages x {} micro-batches is too large to simulate (limit 2^28 pairs)", S_, M_));
  if (static_cast<int>(costs_.stages.size()) < S_)
    throw InputError("schedule", "",
                     fmt::format("the schedule has {} stages but costs were given for {}; give one cost per "
                                 "global stage",
                                 S_, costs_.stages.size()));
  if (!opt_.rank_device.empty() && static_cast<int>(opt_.rank_device.size()) != P_)
    throw InputError("rank_device", "", fmt::format("{} devices for {} ranks", opt_.rank_device.size(), P_));
  rank_of_.assign(S_, -1);
  has_w_.assign(S_, 0);
  has_r_.assign(S_, 0);
  for (int r = 0; r < P_; ++r)
    for (const Action& a : sch_.actions[r]) {
      auto where = [r] { return fmt::format("rank {}", r); };
      int& owner = rank_of_[a.stage];
      if (owner == -1) owner = r;
      if (owner != r)
        throw InputError(
            "schedule", where(),
            fmt::format("{} runs on rank {} but stage {} already has actions on rank {}; a stage "
                        "lives on one rank",
                        to_string(a), r, a.stage, owner));
      if (!is_step_level(a.type) && a.microbatch < 0)
        throw InputError("schedule", where(), fmt::format("{} needs a micro-batch index >= 0", to_string(a)));
      if ((a.type == ActionType::SEND_F || a.type == ActionType::RECV_B) && a.stage == S_ - 1)
        throw InputError("schedule", where(),
                         fmt::format("{}: the last stage has no next stage", to_string(a)));
      if ((a.type == ActionType::SEND_B || a.type == ActionType::RECV_F) && a.stage == 0)
        throw InputError("schedule", where(), fmt::format("{}: stage 0 has no previous stage", to_string(a)));
      if (a.type == ActionType::W) has_w_[a.stage] = 1;
      if (a.type == ActionType::R) has_r_[a.stage] = 1;
    }
  for (int s = 0; s < S_; ++s)
    if (rank_of_[s] == -1) {
      if (s < static_cast<int>(sch_.stage_to_rank.size()) && sch_.stage_to_rank[s] >= 0 &&
          sch_.stage_to_rank[s] < P_)
        rank_of_[s] = sch_.stage_to_rank[s];
      else
        throw InputError("schedule", "", fmt::format("stage {} has no actions on any rank", s));
    }
  // Message overhead of a stage's F, B or I: one message per neighbour on another rank.
  // The activation from stage s-1 and the gradient back to it both carry
  // output_bytes[s-1]; those to and from s+1 carry output_bytes[s].
  msg_ms_.assign(S_, 0.0);
  auto end_ms = [&](std::int64_t bytes) {
    return opt_.message_overhead_ms + opt_.message_overhead_per_byte_ms * static_cast<double>(bytes);
  };
  for (int s = 0; s < S_; ++s) {
    if (s > 0 && rank_of_[s - 1] != rank_of_[s]) msg_ms_[s] += end_ms(costs_.stages[s - 1].output_bytes);
    if (s + 1 < S_ && rank_of_[s + 1] != rank_of_[s]) msg_ms_[s] += end_ms(costs_.stages[s].output_bytes);
  }
}

double Engine::transfer(int from, int to, std::int64_t bytes, double ready, const Action& send,
                        const Action& recv) {
  Link* link = nullptr;
  for (Link& l : links_[from])
    if (l.peer == to) link = &l;
  if (!link) {
    links_[from].push_back({to, 0.0, {}});
    link = &links_[from].back();
  }
  const double dur = cluster_.transfer_seconds(device(from), device(to), static_cast<double>(bytes)) * 1000.0;
  const double start = std::max(ready, link->free_ms);
  const double end = start + dur;
  link->free_ms = end;
  makespan_ = std::max(makespan_, end);
  if (dur > 0 && bytes != 0) {
    link->transfers.push_back({start, end, bytes});
  }
  if (opt_.record_timeline && (dur > 0 || bytes > 0)) {
    tl_.events.push_back({from, Stream::send, send, start, end, to, bytes, -1});
    tl_.events.push_back({to, Stream::recv, recv, start, end, from, bytes, -1});
  }
  return end;
}

double Engine::ready_time(int r, const Action& a) const {
  const int s = a.stage, mb = a.microbatch;
  switch (a.type) {
    case ActionType::F: {
      if (s == 0) return 0;
      const int i = idx(s, mb);
      if (lowered_ && rank_of_[s - 1] != r && !cell_[i].act_posted) return kUnknown;
      return cell_[i].act_at;
    }
    case ActionType::B:
    case ActionType::I: {
      const int i = idx(s, mb);
      if (cell_[i].f_done < 0) return kUnknown;
      if (s == S_ - 1) return cell_[i].f_done;
      if (lowered_ && rank_of_[s + 1] != r && !cell_[i].grad_posted) return kUnknown;
      return cell_[i].grad_at < 0 ? kUnknown : std::max(cell_[i].grad_at, cell_[i].f_done);
    }
    case ActionType::W:
      return cell_[idx(s, mb)].bi_done;
    case ActionType::R:
      return cell_[idx(s, mb)].f_done;
    case ActionType::SEND_F:
      return cell_[idx(s, mb)].f_done;
    case ActionType::SEND_B:
      return cell_[idx(s, mb)].bi_done;
    default:
      return 0;  // RECV posts, STEP and REDUCE_GRAD follow list order only
  }
}

bool Engine::step_rank(int r) {
  const auto& list = sch_.actions[r];
  std::size_t& pc = pc_[r];
  double& clock = clock_[r];
  while (pc < list.size()) {
    const Action& a = list[pc];
    const double ready = ready_time(r, a);
    if (ready < 0) {
      blocked_[r] = 1;
      return false;
    }
    const int s = a.stage, mb = a.microbatch;
    const StageCost& c = costs_.stages[s];
    double start = std::max(clock, ready);
    if (a.type == ActionType::F && s > 0 && rank_of_[s - 1] != r)
      start = std::max(start, clock + cell_[idx(s, mb)].act_wait);
    else if ((a.type == ActionType::B || a.type == ActionType::I) && s + 1 < S_ && rank_of_[s + 1] != r)
      start = std::max(start, clock + cell_[idx(s, mb)].grad_wait);
    if (!is_compute(a.type) && !is_step_level(a.type)) {
      // Posting a send or receive takes no compute time; a drawn delivery
      // delay (Monte Carlo) holds the message back as a busy receiver would.
      const int i = idx(s, mb);
      const double sent = start + at(opt_.send_delay_ms, r, pc, 0.0);
      if (a.type == ActionType::SEND_F) {
        int to = rank_of_[s + 1];
        if (to != r) {
          if (cell_[idx(s + 1, mb)].act_at >= 0)
            throw InputError("schedule", fmt::format("rank {}", r),
                             fmt::format("{} appears twice", to_string(a)));
          cell_[idx(s + 1, mb)].act_at =
              transfer(r, to, c.output_bytes, sent, a, Action{s + 1, ActionType::RECV_F, mb});
          cell_[idx(s + 1, mb)].act_wait = receive_wait(r, pc);
          wake(s + 1);
        }
      } else if (a.type == ActionType::SEND_B) {
        int to = rank_of_[s - 1];
        if (to != r) {
          if (cell_[idx(s - 1, mb)].grad_at >= 0)
            throw InputError("schedule", fmt::format("rank {}", r),
                             fmt::format("{} appears twice", to_string(a)));
          cell_[idx(s - 1, mb)].grad_at = transfer(r, to, costs_.stages[s - 1].output_bytes, sent, a,
                                                   Action{s - 1, ActionType::RECV_B, mb});
          cell_[idx(s - 1, mb)].grad_wait = receive_wait(r, pc);
          wake(s - 1);
        }
      } else if (a.type == ActionType::RECV_F) {
        cell_[i].act_posted = 1;
      } else if (a.type == ActionType::RECV_B) {
        cell_[i].grad_posted = 1;
      }
      if (opt_.record_action_times) times_[r][pc] = {start, start};
      ++pc;
      continue;
    }
    double dur = duration_ms(c, a.type, opt_.step_ms);
    int version = -1;
    if (async_ && opt_.weight_copy_bytes_per_s > 0 && is_compute(a.type)) {
      const int v = a.type == ActionType::F ? steps_done_[s] : cell_[idx(s, mb)].version;
      if (v >= 0 && v != loaded_[s]) {
        dur += static_cast<double>(c.param_bytes) / opt_.weight_copy_bytes_per_s * 1e3;
        loaded_[s] = v;
      }
    }
    // F consumes an activation and produces one; B and I a gradient each.
    if (a.type == ActionType::F || a.type == ActionType::B || a.type == ActionType::I) dur += msg_ms_[s];
    // The processor work: the sharing stretch is time spent waiting for a core.
    const double work = dur * at(opt_.compute_noise, r, pc, 1.0);
    dur = work * at(opt_.action_time_scale, r, pc, 1.0);
    const double end = start + dur;
    clock = end;
    busy_[r] += dur;
    if (first_start_[r] < 0) first_start_[r] = start;
    last_end_[r] = end;
    makespan_ = std::max(makespan_, end);
    if (c.workspace_bytes && dur > 0) {
      mem(r, start, Term::buffers, c.workspace_bytes);
      mem(r, end, Term::buffers, -c.workspace_bytes);
    }
    auto duplicate = [&] {
      throw InputError("schedule", fmt::format("rank {}", r),
                       fmt::format("{} appears more than once", to_string(a)));
    };
    // Frees what the forward of (s, mb) kept, at the end of its last backward.
    auto release = [&] {
      mem(r, end, Term::activations,
          -(stashed_activation_bytes(c, has_r_[s]) + (has_r_[s] ? c.saved_bytes : 0)));
      --inflight_[r];
      if (end > mb_done_[mb]) mb_done_[mb] = end;
    };
    switch (a.type) {
      case ActionType::F: {
        const int i = idx(s, mb);
        if (cell_[i].f_done >= 0) duplicate();
        cell_[i].f_done = end;
        version = async_ ? steps_done_[s] : -1;
        cell_[i].version = version;
        mem(r, start, Term::activations, stashed_activation_bytes(c, has_r_[s]));
        if (++inflight_[r] > peak_inflight_[r]) peak_inflight_[r] = inflight_[r];
        if (s + 1 < S_) {
          const int to = rank_of_[s + 1];
          if (to == r) {
            cell_[idx(s + 1, mb)].act_at = end;
          } else if (!lowered_) {
            cell_[idx(s + 1, mb)].act_at =
                transfer(r, to, c.output_bytes, end, Action{s, ActionType::SEND_F, mb},
                         Action{s + 1, ActionType::RECV_F, mb});
            cell_[idx(s + 1, mb)].act_wait = opt_.receive_wait_ms;
            wake(s + 1);
          }
        }
        break;
      }
      case ActionType::B:
      case ActionType::I: {
        const int i = idx(s, mb);
        if (cell_[i].bi_done >= 0) duplicate();
        cell_[i].bi_done = end;
        version = cell_[i].version;
        if (a.type == ActionType::B || !has_w_[s]) release();
        if (s > 0) {
          const int to = rank_of_[s - 1];
          if (to == r) {
            cell_[idx(s - 1, mb)].grad_at = end;
          } else if (!lowered_) {
            cell_[idx(s - 1, mb)].grad_at =
                transfer(r, to, costs_.stages[s - 1].output_bytes, end, Action{s, ActionType::SEND_B, mb},
                         Action{s - 1, ActionType::RECV_B, mb});
            cell_[idx(s - 1, mb)].grad_wait = opt_.receive_wait_ms;
            wake(s - 1);
          }
        }
        break;
      }
      case ActionType::W: {
        const int i = idx(s, mb);
        if (cell_[i].w_done) duplicate();
        cell_[i].w_done = 1;
        version = cell_[i].version;
        release();
        break;
      }
      case ActionType::R: {
        version = cell_[idx(s, mb)].version;
        mem(r, start, Term::activations, c.saved_bytes);
        break;
      }
      case ActionType::STEP:
        ++steps_done_[s];
        break;
      default:
        break;
    }
    if (opt_.record_timeline) tl_.events.push_back({r, Stream::compute, a, start, end, -1, 0, version, work});
    if (opt_.record_action_times) times_[r][pc] = {start, end};
    ++pc;
  }
  return true;
}

std::string Engine::wait_reason(int r, const Action& a) const {
  const int s = a.stage, mb = a.microbatch;
  auto ran = [&](ActionType t, int st) {
    return fmt::format("{} (rank {})", to_string(Action{st, t, mb}), rank_of_[st]);
  };
  switch (a.type) {
    case ActionType::F: {
      const int i = idx(s, mb);
      if (lowered_ && rank_of_[s - 1] != r && !cell_[i].act_posted)
        return fmt::format("its receive {} has not been posted on this rank (missing, or later in its list)",
                           to_string(Action{s, ActionType::RECV_F, mb}));
      if (cell_[idx(s - 1, mb)].f_done < 0)
        return "the activation from " + ran(ActionType::F, s - 1) + ", which has not run";
      return "the activation sent by " + ran(ActionType::SEND_F, s - 1) + ", which has not run";
    }
    case ActionType::B:
    case ActionType::I: {
      const int i = idx(s, mb);
      if (cell_[i].f_done < 0)
        return fmt::format(
            "its forward {} on this rank, which has not run (it must come earlier in the list)",
            to_string(Action{s, ActionType::F, mb}));
      if (lowered_ && rank_of_[s + 1] != r && !cell_[i].grad_posted)
        return fmt::format("its receive {} has not been posted on this rank (missing, or later in its list)",
                           to_string(Action{s, ActionType::RECV_B, mb}));
      if (cell_[idx(s + 1, mb)].bi_done < 0)
        return "the gradient from " + ran(has_w_[s + 1] ? ActionType::I : ActionType::B, s + 1) +
               ", which has not run";
      return "the gradient sent by " + ran(ActionType::SEND_B, s + 1) + ", which has not run";
    }
    case ActionType::W:
    case ActionType::SEND_B:
      return fmt::format("{} or {} on this rank, which has not run", to_string(Action{s, ActionType::I, mb}),
                         to_string(Action{s, ActionType::B, mb}));
    case ActionType::R:
    case ActionType::SEND_F:
      return fmt::format("{} on this rank, which has not run", to_string(Action{s, ActionType::F, mb}));
    default:
      return "nothing (internal error)";
  }
}

void Engine::deadlock() const {
  std::string msg = "the schedule cannot finish (deadlock); no rank can make progress:";
  for (int r = 0; r < P_; ++r) {
    const auto& list = sch_.actions[r];
    if (pc_[r] >= list.size()) {
      msg += fmt::format("\n  rank {}: finished all {} actions", r, list.size());
      continue;
    }
    const Action& a = list[pc_[r]];
    msg += fmt::format("\n  rank {}: blocked at action #{} {}, waiting for {}", r, pc_[r], to_string(a),
                       wait_reason(r, a));
  }
  msg += "\nfix the order of the listed actions (or add the missing ones) so that each dependency runs first";
  throw InputError("schedule", "", msg);
}

SimulationResult Engine::run() {
  check_shape();
  traits_ = &schedule_traits_or_custom(sch_.kind);
  async_ = traits_->asynchronous();
  const std::size_t n = static_cast<std::size_t>(S_) * M_;
  cell_.assign(n, Cell{});
  steps_done_.assign(S_, 0);
  loaded_.assign(S_, 0);
  mb_done_.assign(M_, kUnknown);
  pc_.assign(P_, 0);
  clock_.assign(P_, 0);
  busy_.assign(P_, 0);
  first_start_.assign(P_, kUnknown);
  last_end_.assign(P_, 0);
  blocked_.assign(P_, 0);
  inflight_.assign(P_, 0);
  peak_inflight_.assign(P_, 0);
  links_.assign(P_, {});
  deltas_.assign(P_, {});
  std::size_t total = 0;
  for (int r = 0; r < P_; ++r) {
    deltas_[r].reserve(sch_.actions[r].size() * 2 + 4);
    total += sch_.actions[r].size();
  }
  if (opt_.record_timeline) tl_.events.reserve(total * (lowered_ ? 1 : 2));
  if (opt_.record_action_times) {
    times_.assign(P_, {});
    for (int r = 0; r < P_; ++r) times_[r].assign(sch_.actions[r].size(), {0.0, 0.0});
  }
  for (int r = P_ - 1; r >= 0; --r) work_.push_back(r);
  while (!work_.empty()) {
    int r = work_.back();
    work_.pop_back();
    step_rank(r);
  }
  for (int r = 0; r < P_; ++r)
    if (pc_[r] < sch_.actions[r].size()) deadlock();

  SimulationResult res;
  res.metrics.actions = total;
  finish_metrics(res);
  res.action_times = std::move(times_);
  return res;
}

void Engine::finish_metrics(SimulationResult& res) {
  SimMetrics& m = res.metrics;
  m.step_time_ms = makespan_;
  m.asynchronous = async_;
  m.device_memory_bytes = cluster_.device_memory_bytes;
  m.ranks.resize(P_);
  double idle_sum = 0;
  for (int r = 0; r < P_; ++r) {
    RankMetrics& rm = m.ranks[r];
    rm.busy_ms = busy_[r];
    rm.idle_ms = std::max(0.0, makespan_ - busy_[r]);
    rm.bubble_fraction = makespan_ > 0 ? rm.idle_ms / makespan_ : 0;
    rm.span_ms = first_start_[r] < 0 ? 0 : last_end_[r] - first_start_[r];
    idle_sum += rm.idle_ms;
  }
  m.bubble_fraction = makespan_ > 0 ? idle_sum / (P_ * makespan_) : 0;

  // Minibatches: explicit, else the updates of stage 0 split the micro-batches.
  int mpm = opt_.microbatches_per_minibatch;
  if (mpm <= 0) {
    mpm = M_;
    if (async_ && steps_done_[0] > 0) mpm = std::max(1, M_ / steps_done_[0]);
  }
  mpm = std::min(mpm, M_);
  m.microbatches_per_minibatch = mpm;
  m.minibatches = async_ ? std::max(1, M_ / mpm) : 1;
  m.time_per_minibatch_ms = makespan_;
  if (async_ && m.minibatches >= 2) {
    const int nb = m.minibatches;
    std::vector<double> done(nb, 0);
    for (int mb = 0; mb < nb * mpm; ++mb) done[mb / mpm] = std::max(done[mb / mpm], mb_done_[mb]);
    int k1 = nb / 4, k2 = nb - 1 - nb / 4;
    if (k2 <= k1) k1 = 0, k2 = nb - 1;
    m.time_per_minibatch_ms = (done[k2] - done[k1]) / (k2 - k1);
  }
  const double samples = static_cast<double>(async_ ? mpm : M_) * std::max(1, opt_.microbatch_size);
  m.throughput_samples_per_s = m.time_per_minibatch_ms > 0 ? samples / (m.time_per_minibatch_ms / 1000.0) : 0;

  // Memory: static terms per rank, then the dynamic deltas in time order.
  std::vector<MemorySample> base(P_);
  for (int r = 0; r < P_; ++r) base[r].rank = r;
  for (int s = 0; s < S_; ++s) {
    StaticMemory sm = static_memory(costs_.stages[s], *traits_, s, S_, opt_.optimizer, opt_.precision);
    MemorySample& b = base[rank_of_[s]];
    b.weights += sm.weights;
    b.master += sm.master;
    b.gradients += sm.gradients;
    b.optimizer += sm.optimizer;
  }
  // Each rank's deltas: its compute stream plus one stream per link end, each
  // already in time order (compute deltas are sorted here only if zero-length
  // actions broke that); a k-way merge over those few streams.
  std::vector<std::vector<DeltaCursor>> streams(P_);
  for (int r = 0; r < P_; ++r) {
    auto& d = deltas_[r];
    if (!std::is_sorted(d.begin(), d.end(), before)) std::sort(d.begin(), d.end(), before);
    DeltaCursor c;
    c.d = d.data();
    c.d_end = d.data() + d.size();
    streams[r].push_back(c);
  }
  for (int r = 0; r < P_; ++r)
    for (Link& l : links_[r]) {
      if (l.transfers.empty()) continue;
      DeltaCursor c;
      c.x = l.transfers.data();
      c.x_end = l.transfers.data() + l.transfers.size();
      streams[r].push_back(c);
      streams[l.peer].push_back(c);
    }
  for (int r = 0; r < P_; ++r) {
    auto& ss = streams[r];
    for (auto& c : ss) c.load();
    auto pick = [&]() -> DeltaCursor* {
      DeltaCursor* best = nullptr;
      for (auto& c : ss)
        if (c.valid && (!best || c.t < best->t || (c.t == best->t && c.code < 0 && best->code >= 0)))
          best = &c;
      return best;
    };
    RankMetrics& rm = m.ranks[r];
    MemorySample cur = base[r];
    rm.peak_memory = cur;
    rm.peak_memory_bytes = cur.total();
    rm.peak_inflight_microbatches = peak_inflight_[r];
    if (opt_.record_timeline) tl_.memory.push_back(cur);
    for (DeltaCursor* c = pick(); c;) {
      const double t = c->t;
      const std::int64_t amount = c->code >> 1;
      ((c->code & 1) ? cur.buffers : cur.activations) += amount;
      cur.time_ms = t;
      if (cur.total() > rm.peak_memory_bytes) {
        rm.peak_memory_bytes = cur.total();
        rm.peak_memory = cur;
      }
      c->advance();
      c = pick();
      if (opt_.record_timeline && (!c || c->t != t)) tl_.memory.push_back(cur);
    }
    const MemorySample& pk = rm.peak_memory;
    std::pair<std::int64_t, const char*> terms[] = {
        {pk.weights, "weights"},     {pk.master, "master weights"},   {pk.gradients, "gradients"},
        {pk.optimizer, "optimizer"}, {pk.activations, "activations"}, {pk.buffers, "buffers"}};
    rm.peak_term =
        pk.total() == 0 ? "none" : std::max_element(std::begin(terms), std::end(terms), [](auto& a, auto& b) {
                                     return a.first < b.first;
                                   })->second;
    m.peak_memory_bytes = std::max(m.peak_memory_bytes, rm.peak_memory_bytes);
  }
  m.fits_memory = m.device_memory_bytes <= 0 || m.peak_memory_bytes <= m.device_memory_bytes;

  Timeline& t = res.timeline;
  t = std::move(tl_);
  t.source = "predicted";
  t.schedule = sch_.kind;
  t.num_ranks = P_;
  t.num_stages = S_;
  t.num_microbatches = M_;
  t.virtual_stages = std::max(1, S_ / P_);
  t.step_time_ms = makespan_;
  t.device_memory_bytes = cluster_.device_memory_bytes;
  if (opt_.record_timeline) {
    // Group by (rank, stream) with a counting sort; each group is already in
    // start order but for transfers on different links, which a sort fixes.
    const std::size_t groups = static_cast<std::size_t>(P_) * 3;
    auto key = [](const TimelineEvent& e) {
      return static_cast<std::size_t>(e.rank) * 3 + static_cast<int>(e.stream);
    };
    std::vector<std::size_t> first(groups + 1, 0);
    for (const auto& e : t.events) ++first[key(e) + 1];
    for (std::size_t g = 0; g < groups; ++g) first[g + 1] += first[g];
    std::vector<TimelineEvent> sorted(t.events.size());
    std::vector<std::size_t> fill(first.begin(), first.end() - 1);
    for (auto& e : t.events) sorted[fill[key(e)]++] = e;
    auto by_start = [](const TimelineEvent& a, const TimelineEvent& b) { return a.start_ms < b.start_ms; };
    for (std::size_t g = 0; g < groups; ++g) {
      auto b = sorted.begin() + static_cast<long>(first[g]),
           e = sorted.begin() + static_cast<long>(first[g + 1]);
      if (!std::is_sorted(b, e, by_start)) std::stable_sort(b, e, by_start);
    }
    t.events = std::move(sorted);
    set_meta(t, RunMeta::time_per_minibatch_ms, fmt::format("{}", m.time_per_minibatch_ms));
    set_meta(t, RunMeta::optimizer, to_string(opt_.optimizer));
    if (async_) set_meta(t, RunMeta::asynchronous, "true");
  }
}

}  // namespace

Cluster free_cluster(int ranks) {
  return flat_cluster(std::max(1, ranks), 0, 0, 0);
}

SimulationResult simulate(const Schedule& schedule, const StageCosts& costs, const Cluster& cluster,
                          const SimOptions& options) {
  Engine e(schedule, costs, cluster, options);
  return e.run();
}

}  // namespace pipekit
