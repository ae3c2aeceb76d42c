#include "core/schedule_traits.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace pipekit {
namespace {

using P = StagePlacement;
using V = WeightVersionRule;
using M = InFlightRule;
using U = WeightUpdate;

const std::vector<ScheduleTraits> kTable = {
    {ScheduleKind::naive, "naive", "naive.cpp",
     "inter-layer model parallelism: one micro-batch, one device busy", 1, 1, 1, P::loop, V::one, M::one,
     U::flush, false},
    {ScheduleKind::gpipe, "gpipe", "gpipe.cpp", "all forwards, then all backwards, then a flush", 1, 1, 1,
     P::loop, V::one, M::all, U::flush, false},
    {ScheduleKind::one_f_one_b, "1f1b", "one_f_one_b.cpp",
     "PipeDream-Flush: warm-up forwards, one forward one backward, cool-down, flush", 1, 1, 1, P::loop,
     V::one, M::stage_depth, U::flush, false},
    {ScheduleKind::interleaved, "interleaved", "interleaved.cpp", "1F1B over v chunks per rank (Megatron-LM)",
     1, 0, 2, P::loop, V::one, M::stage_depth, U::flush, false},
    {ScheduleKind::pipedream, "pipedream", "pipedream.cpp",
     "asynchronous 1F1B with weight stashing: no flush, a weight version per micro-batch in flight", 1, 1, 1,
     P::loop, V::stage_depth, M::stage_depth, U::every_microbatch, false},
    {ScheduleKind::two_bw, "2bw", "two_bw.cpp",
     "PipeDream-2BW: no flush, two weight versions, updates delayed by one minibatch", 1, 1, 1, P::loop,
     V::two, M::stage_depth, U::delayed_minibatch, false},
    {ScheduleKind::zb_h1, "zb-h1", "zb_h1.cpp", "zero bubble H1: 1F1B's memory, W fills the cool-down", 1, 1,
     1, P::loop, V::one, M::stage_depth, U::flush, true},
    {ScheduleKind::zb_h2, "zb-h2", "zb_h2.cpp", "zero bubble H2: a doubled warm-up, W fills every gap", 1, 1,
     1, P::loop, V::one, M::twice_depth, U::flush, true},
    {ScheduleKind::zbv, "zbv", "zbv.cpp", "zero bubble V: two chunks per rank in a V, I/W split", 2, 2, 2,
     P::v_shape, V::one, M::stage_depth, U::flush, true},
    {ScheduleKind::zb_auto, "zb-auto", "zb_auto.cpp",
     "zero bubble, automatic: warm-up per rank chosen from the costs, W in the gaps, under a memory cap", 1,
     1, 1, P::loop, V::one, M::pipeline_depth, U::flush, true, true},
    {ScheduleKind::zb_interleaved, "zb-interleaved", "zb_interleaved.cpp",
     "interleaved zero bubble: v >= 2 chunks per rank in a loop, I/W split, W in the gaps", 2, 0, 2, P::loop,
     V::one, M::stage_depth, U::flush, true, true},
    {ScheduleKind::dualpipev, "dualpipev", "dualpipev.cpp",
     "DualPipeV (DeepSeek): two chunks per rank in a V, bidirectional order, W deferred at the ends", 2, 2, 2,
     P::v_shape, V::one, M::pipeline_depth, U::flush, true},
};

const ScheduleTraits kCustom = {
    ScheduleKind::custom, "custom", "",   "a schedule read from a file", 1, 0, 1, P::loop, V::one,
    M::stage_depth,       U::flush, false};

}  // namespace

const std::vector<ScheduleTraits>& schedule_table() {
  return kTable;
}

std::vector<std::string> schedule_names() {
  std::vector<std::string> out;
  for (const auto& t : kTable) out.emplace_back(t.name);
  return out;
}

std::string schedule_name_list() {
  std::string out;
  for (const auto& t : kTable) out += fmt::format("{}{}", out.empty() ? "" : ", ", t.name);
  return out;
}

const ScheduleTraits* find_schedule(std::string_view name) {
  auto it =
      std::find_if(kTable.begin(), kTable.end(), [&](const ScheduleTraits& t) { return t.name == name; });
  return it == kTable.end() ? nullptr : &*it;
}

const ScheduleTraits& schedule_traits(std::string_view name, const std::string& source) {
  if (const ScheduleTraits* t = find_schedule(name)) return *t;
  throw InputError(source, "",
                   fmt::format("unknown schedule '{}'; choose one of: {}", name, schedule_name_list()));
}

const ScheduleTraits& schedule_traits(ScheduleKind kind) {
  for (const auto& t : kTable)
    if (t.id == kind) return t;
  return kCustom;
}

const ScheduleTraits& schedule_traits_or_custom(std::string_view name) {
  const ScheduleTraits* t = find_schedule(name);
  return t ? *t : kCustom;
}

int stage_rank(const ScheduleTraits& t, int stage, int num_ranks) {
  if (num_ranks <= 0) return 0;
  if (t.placement == StagePlacement::v_shape) return stage < num_ranks ? stage : 2 * num_ranks - 1 - stage;
  return stage % num_ranks;
}

int weight_versions(const ScheduleTraits& t, int stage, int num_stages, int replicas) {
  switch (t.versions) {
    case WeightVersionRule::one:
      return 1;
    case WeightVersionRule::stage_depth: {
      const int r = std::max(1, replicas);
      return (std::max(1, num_stages - stage) + r - 1) / r;
    }
    case WeightVersionRule::two:
      return 2;
  }
  return 1;
}

int in_flight_microbatches(const ScheduleTraits& t, int stage, int stages, int microbatches) {
  const int m = std::max(1, microbatches);
  switch (t.in_flight) {
    case InFlightRule::one:
      return 1;
    case InFlightRule::all:
      return m;
    case InFlightRule::stage_depth:
      return std::min(stages - stage, m);
    case InFlightRule::twice_depth:
      return std::min(2 * (stages - stage) - 1, m);
    case InFlightRule::pipeline_depth:
      return std::min(stages, m);
  }
  return m;
}

ReplicaShare replica_activation_share(const ScheduleTraits& t, int stage, int stages, int microbatches,
                                      int replicas) {
  const int r = std::max(1, replicas);
  if (!t.asynchronous()) return {1, r};
  const int k = std::max(1, in_flight_microbatches(t, stage, stages, microbatches));
  return {(k + r - 1) / r, k};
}

}  // namespace pipekit
