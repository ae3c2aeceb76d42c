#include "passes/stream_cut.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>
#include <tuple>

namespace pipekit {
namespace {

using Key = std::tuple<int, int, int>;  // stage, type, micro-batch

Key key(int stage, ActionType t, int mb) {
  return {stage, static_cast<int>(t), mb};
}

}  // namespace

std::vector<RankCut> stream_cut(const Schedule& s, int done) {
  if (!s.lowered()) throw std::invalid_argument("the schedule has no SEND/RECV actions (lower it first)");
  if (done < 1 || done > s.num_microbatches)
    throw std::invalid_argument(
        fmt::format("a cut after {} micro-batches is outside the stream of {}", done, s.num_microbatches));
  if (s.num_stages != s.num_ranks)
    throw std::invalid_argument(fmt::format(
        "{} stages on {} ranks: a resumable stream needs one stage per rank", s.num_stages, s.num_ranks));
  std::map<Key, std::size_t> where;
  std::vector<int> stage_of(s.num_ranks, -1);
  for (int r = 0; r < s.num_ranks; ++r)
    for (std::size_t i = 0; i < s.actions[r].size(); ++i) {
      const Action& a = s.actions[r][i];
      if (a.type == ActionType::R || a.type == ActionType::I || a.type == ActionType::W ||
          a.type == ActionType::REDUCE_GRAD)
        throw std::invalid_argument(
            fmt::format("rank {} runs {}: only F, B, STEP and transfers can be resumed "
                        "mid-stream",
                        r, to_string(a)));
      if (stage_of[r] >= 0 && stage_of[r] != a.stage)
        throw std::invalid_argument(
            fmt::format("rank {} runs stages {} and {}: a resumable stream needs one "
                        "stage per rank",
                        r, stage_of[r], a.stage));
      stage_of[r] = a.stage;
      if (a.type != ActionType::STEP) where[key(a.stage, a.type, a.microbatch)] = i;
    }
  for (int r = 0; r < s.num_ranks; ++r)
    if (stage_of[r] < 0) throw std::invalid_argument(fmt::format("rank {} has no actions", r));
  auto index = [&](int stage, ActionType t, int mb) {
    auto it = where.find(key(stage, t, mb));
    if (it == where.end())
      throw std::invalid_argument(fmt::format("the schedule has no {}", to_string(Action{stage, t, mb})));
    return it->second;
  };

  std::vector<RankCut> cuts(s.num_ranks);
  for (int r = 0; r < s.num_ranks; ++r) {
    const auto& list = s.actions[r];
    const std::size_t b = index(stage_of[r], ActionType::B, done - 1);
    std::size_t i = b + 1;
    while (i < list.size() && list[i].type != ActionType::STEP) ++i;
    if (i == list.size())
      throw std::invalid_argument(fmt::format("rank {} has no STEP after {}", r,
                                              to_string(Action{stage_of[r], ActionType::B, done - 1})));
    cuts[r].position = i + 1;
  }
  auto pre = [&](int stage, ActionType t, int mb) {
    return index(stage, t, mb) < cuts[s.stage_to_rank.at(stage)].position;
  };

  for (int r = 0; r < s.num_ranks; ++r) {
    const int st = stage_of[r];
    RankCut& cut = cuts[r];
    for (int mb = 0; mb < s.num_microbatches; ++mb) {
      // The optimizer state at the cut must hold exactly the first `done`
      // micro-batches' gradients.
      if (pre(st, ActionType::B, mb) != (mb < done))
        throw std::invalid_argument(
            fmt::format("rank {}: {} falls on the wrong side of the cut after micro-batch {}", r,
                        to_string(Action{st, ActionType::B, mb}), done - 1));
      if (pre(st, ActionType::F, mb) && !pre(st, ActionType::B, mb)) cut.in_flight.push_back(mb);
    }
    const auto& list = s.actions[r];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Action& a = list[i];
      const bool before = i < cut.position;
      switch (a.type) {
        case ActionType::RECV_F:
          if (before && !pre(a.stage, ActionType::F, a.microbatch)) cut.repost.push_back(a);
          break;
        case ActionType::RECV_B:
          if (before && !pre(a.stage, ActionType::B, a.microbatch)) cut.repost.push_back(a);
          break;
        case ActionType::SEND_F: {
          const bool used_before = pre(a.stage + 1, ActionType::F, a.microbatch);
          if (before && !used_before) cut.resend.push_back(a);
          if (!before && used_before)
            throw std::invalid_argument(fmt::format(
                "rank {}: {} comes after the cut but its receiver uses it before", r, to_string(a)));
          break;
        }
        case ActionType::SEND_B: {
          const bool used_before = pre(a.stage - 1, ActionType::B, a.microbatch);
          if (before != used_before)
            throw std::invalid_argument(
                fmt::format("rank {}: the gradient {} is in flight across the cut", r, to_string(a)));
          if (!before && pre(a.stage, ActionType::B, a.microbatch))
            throw std::invalid_argument(
                fmt::format("rank {}: {} is sent after the cut but computed before it", r, to_string(a)));
          break;
        }
        default:
          break;
      }
    }
  }
  return cuts;
}

std::vector<std::size_t> minibatch_ends(const Schedule& s, int rank, int m) {
  std::vector<std::size_t> ends;
  bool ended = false;  // the backward that ends the next minibatch has run; its STEP comes next
  const auto& list = s.actions.at(rank);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Action& a = list[i];
    if (a.type == ActionType::B && a.microbatch == static_cast<int>(ends.size() + 1) * m - 1) ended = true;
    if (ended && a.type == ActionType::STEP) {
      ends.push_back(i + 1);
      ended = false;
    }
  }
  return ends;
}

}  // namespace pipekit
