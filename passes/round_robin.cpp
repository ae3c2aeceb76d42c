#include "passes/round_robin.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>

namespace pipekit {

int round_robin_owner(const Action& a, int replicas, int last_b, bool step_per_backward) {
  if (replicas <= 1) return 0;
  if (a.type == ActionType::STEP) return step_per_backward ? last_b % replicas : -1;
  return a.microbatch % replicas;
}

std::vector<int> round_robin_owners(const std::vector<Action>& list, int replicas, bool step_per_backward) {
  std::vector<int> owners;
  owners.reserve(list.size());
  std::map<int, int> last_b;  // stage -> micro-batch of its latest B so far
  for (const Action& a : list) {
    if (a.type == ActionType::B) last_b[a.stage] = a.microbatch;
    owners.push_back(round_robin_owner(a, replicas, last_b[a.stage], step_per_backward));
  }
  return owners;
}

std::vector<std::string> round_robin_deadlocks(const Schedule& s, const std::vector<int>& group_replicas,
                                               bool step_per_backward) {
  // One process per (pipeline rank, replica): its own list and position.
  struct Proc {
    int group = 0, replica = 0;
    std::vector<Action> list;
    std::size_t next = 0;
    int steps = 0;  // STEPs completed
  };
  std::vector<int> reps(s.num_ranks, 1);
  for (int g = 0; g < s.num_ranks && g < static_cast<int>(group_replicas.size()); ++g)
    reps[g] = std::max(1, group_replicas[g]);
  std::vector<Proc> procs;
  for (int g = 0; g < s.num_ranks; ++g) {
    const int r = reps[g];
    const std::vector<int> owners = round_robin_owners(s.actions[g], r, step_per_backward);
    for (int j = 0; j < r; ++j) {
      Proc p;
      p.group = g;
      p.replica = j;
      for (std::size_t i = 0; i < owners.size(); ++i)
        if (owners[i] < 0 || owners[i] == j) p.list.push_back(s.actions[g][i]);
      procs.push_back(std::move(p));
    }
  }
  std::set<std::tuple<int, int, int>> sent;    // (stage, type, micro-batch) of SENDs posted
  std::map<std::pair<int, int>, int> arrived;  // (group, q) -> replicas that reached their q-th STEP
  // A forward or backward waits for the message that feeds it (none when the
  // neighbouring stage is on the same pipeline rank); everything else but a
  // STEP goes ahead (sends and receive postings never block).
  auto ready = [&](const Proc& p) {
    const Action& a = p.list[p.next];
    switch (a.type) {
      case ActionType::F:
        return a.stage == 0 || s.stage_to_rank[a.stage - 1] == p.group ||
               sent.count({a.stage - 1, static_cast<int>(ActionType::SEND_F), a.microbatch}) > 0;
      case ActionType::B:
        return a.stage == s.num_stages - 1 || s.stage_to_rank[a.stage + 1] == p.group ||
               sent.count({a.stage + 1, static_cast<int>(ActionType::SEND_B), a.microbatch}) > 0;
      default:
        return true;
    }
  };
  std::vector<bool> waiting(procs.size(), false);  // arrived at a STEP, all-reduce not done
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t k = 0; k < procs.size(); ++k) {
      Proc& p = procs[k];
      while (p.next < p.list.size()) {
        const Action& a = p.list[p.next];
        if (a.type == ActionType::STEP) {
          if (!waiting[k]) {
            waiting[k] = true;
            ++arrived[{p.group, p.steps}];
            progress = true;
          }
          if (arrived[{p.group, p.steps}] < reps[p.group]) break;
          waiting[k] = false;
          ++p.steps;
          ++p.next;
          progress = true;
          continue;
        }
        if (!ready(p)) break;
        if (a.type == ActionType::SEND_F || a.type == ActionType::SEND_B)
          sent.insert({a.stage, static_cast<int>(a.type), a.microbatch});
        ++p.next;
        progress = true;
      }
    }
  }
  std::vector<std::string> out;
  for (const Proc& p : procs)
    if (p.next < p.list.size())
      out.push_back(
          fmt::format("rank {} replica {} waits at {}{}", p.group, p.replica, to_string(p.list[p.next]),
                      p.list[p.next].type == ActionType::STEP
                          ? fmt::format(" (its all-reduce number {} with the other replicas)", p.steps + 1)
                          : std::string(" (for a message that is never sent)")));
  return out;
}

}  // namespace pipekit
