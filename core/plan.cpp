#include "core/plan.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
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

bool ScheduleCostHint::has_cap() const {
  return std::any_of(max_pending_backward.begin(), max_pending_backward.end(), [](int c) { return c > 0; });
}

int ScheduleCostHint::cap(int rank) const {
  if (rank < 0 || rank >= static_cast<int>(max_pending_backward.size())) return 0;
  return std::max(0, max_pending_backward[static_cast<std::size_t>(rank)]);
}

void validate(const ScheduleCostHint& h, int stages, int ranks, const std::string& source) {
  const std::string base = "$.schedule.cost_hint";
  auto times = [&](const std::vector<double>& v, const char* name, std::size_t want) {
    if (v.size() != want)
      throw InputError(source, base + "." + name,
                       fmt::format("has {} entries but the schedule has {} {}", v.size(), want,
                                   std::string_view(name) == "message_ms" ? "stage boundaries" : "stages"));
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]) || v[i] < 0)
        throw InputError(source, fmt::format("{}.{}[{}]", base, name, i),
                         "times must be finite milliseconds >= 0");
  };
  const auto S = static_cast<std::size_t>(std::max(stages, 0));
  if (h.has_costs() || !h.input_grad_ms.empty() || !h.weight_grad_ms.empty()) {
    times(h.forward_ms, "forward_ms", S);
    times(h.input_grad_ms, "input_grad_ms", S);
    times(h.weight_grad_ms, "weight_grad_ms", S);
  }
  if (!h.message_ms.empty()) times(h.message_ms, "message_ms", S > 0 ? S - 1 : 0);
  if (ranks >= 0 && !h.max_pending_backward.empty() &&
      h.max_pending_backward.size() != static_cast<std::size_t>(ranks))
    throw InputError(
        source, base + ".max_pending_backward",
        fmt::format("has {} entries but the pipeline has {} ranks", h.max_pending_backward.size(), ranks));
  for (std::size_t i = 0; i < h.max_pending_backward.size(); ++i)
    if (h.max_pending_backward[i] < 0 || h.max_pending_backward[i] > (1 << 24))
      throw InputError(source, fmt::format("{}.max_pending_backward[{}]", base, i),
                       "a cap is a count of pending backward passes, 0 (the default) to 16777216");
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
  validate(p.schedule.cost_hint, static_cast<int>(p.stages.size()), -1, source);
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
