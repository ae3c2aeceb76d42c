#include "core/plan.h"

#include <fmt/format.h>
#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/schedule_traits.h"

namespace pipekit {

std::string to_string(Recompute r) {
  switch (r) {
    case Recompute::never:
      return "never";
    case Recompute::except_last:
      return "except_last";
    case Recompute::always:
      return "always";
  }
  return "never";
}

bool recompute_from_string(const std::string& s, Recompute& out) {
  if (s == "never")
    out = Recompute::never;
  else if (s == "except_last")
    out = Recompute::except_last;
  else if (s == "always")
    out = Recompute::always;
  else
    return false;
  return true;
}

int Plan::num_ranks() const {
  std::set<int> r;
  for (const auto& s : stages) r.insert(s.ranks.begin(), s.ranks.end());
  return static_cast<int>(r.size());
}

void validate(const Plan& p, const std::string& source, int num_layers) {
  if (p.stages.empty()) throw InputError(source, "$.stages", "the plan has no stages");
  if (!find_schedule(p.schedule.kind))
    throw InputError(
        source, "$.schedule.kind",
        fmt::format("unknown schedule '{}'; use one of {}", p.schedule.kind, schedule_name_list()));
  if (p.schedule.microbatches < 1)
    throw InputError(source, "$.schedule.microbatches", "needs at least one micro-batch");
  if (p.schedule.virtual_stages < 1)
    throw InputError(source, "$.schedule.virtual_stages", "needs at least one virtual stage per rank");
  // Generators allocate per micro-batch and per stage: keep the counts plausible.
  if (p.schedule.microbatches > (1 << 24))
    throw InputError(source, "$.schedule.microbatches", "more than 16777216 micro-batches; check the plan");
  if (p.schedule.virtual_stages > 1024)
    throw InputError(source, "$.schedule.virtual_stages",
                     "more than 1024 virtual stages per rank; check the plan");
  if (p.schedule.minibatches < 1 || p.schedule.minibatches > (1 << 20))
    throw InputError(source, "$.schedule.minibatches", "must be between 1 and 1048576");
  if (p.stages.size() > (1u << 20)) throw InputError(source, "$.stages", "more than 1048576 stages");
  std::vector<int> owner(num_layers > 0 ? num_layers : 0, -1);
  for (std::size_t i = 0; i < p.stages.size(); ++i) {
    const auto& s = p.stages[i];
    std::string where = fmt::format("$.stages[{}]", i);
    if (s.layers.empty()) throw InputError(source, where, "stage has no layers");
    if (s.replicas < 1) throw InputError(source, where, "replicas must be >= 1");
    if (static_cast<int>(s.ranks.size()) != s.replicas)
      throw InputError(source, where,
                       fmt::format("replicas is {} but {} ranks are listed; list one rank per replica",
                                   s.replicas, s.ranks.size()));
    for (int r : s.ranks)
      if (r < 0 || r >= (1 << 20)) throw InputError(source, where, "ranks must be between 0 and 1048575");
    if (num_layers >= 0)
      for (int l : s.layers) {
        if (l < 0 || l >= num_layers)
          throw InputError(
              source, where,
              fmt::format("layer {} does not exist; the profile has layers 0..{}", l, num_layers - 1));
        if (owner[l] != -1)
          throw InputError(source, where, fmt::format("layer {} is already in stage {}", l, owner[l]));
        owner[l] = static_cast<int>(i);
      }
  }
  if (num_layers >= 0) {
    auto it = std::find(owner.begin(), owner.end(), -1);
    if (it != owner.end())
      throw InputError(
          source, "$.stages",
          fmt::format("layer {} is in no stage; every layer must be placed", it - owner.begin()));
  }
}

}  // namespace pipekit
