#include "planner/schedule_generator.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/schedule_traits.h"
#include "planner/schedules/dualpipev.h"
#include "planner/schedules/gpipe.h"
#include "planner/schedules/interleaved.h"
#include "planner/schedules/naive.h"
#include "planner/schedules/one_f_one_b.h"
#include "planner/schedules/pipedream.h"
#include "planner/schedules/schedule_building.h"
#include "planner/schedules/two_bw.h"
#include "planner/schedules/zb_auto.h"
#include "planner/schedules/zb_h1.h"
#include "planner/schedules/zb_h2.h"
#include "planner/schedules/zb_interleaved.h"
#include "planner/schedules/zbv.h"

namespace pipekit {
namespace {

// Generated lists hold about 3 * stages * micro-batches actions; refuse sizes
// that would exhaust memory instead of failing somewhere deep inside.
constexpr long long kMaxCells = 1LL << 28;

void check_chunks(const ScheduleTraits& t, int v) {
  if (v >= t.min_chunks && (t.max_chunks == 0 || v <= t.max_chunks)) return;
  if (t.min_chunks == t.max_chunks && t.min_chunks > 1)
    throw InputError(
        "--virtual", "",
        fmt::format("{} needs exactly {} chunks per rank (a V: rank r holds stages r and 2p-1-r), "
                    "got {}; pass --virtual {}",
                    t.name, t.min_chunks, v, t.min_chunks));
  if (v < t.min_chunks)
    throw InputError(
        "--virtual", "",
        fmt::format("{} needs at least {} chunks per rank, got {}; pass --virtual {} (or use "
                    "--schedule {} for one stage per rank)",
                    t.name, t.min_chunks, v, t.min_chunks, t.splits_backward ? "zb-auto" : "1f1b"));
  throw InputError(
      "--virtual", "",
      fmt::format("schedule '{}' runs one stage per rank, but {} virtual stages were asked for; use "
                  "--schedule interleaved for several chunks per rank (or zbv with exactly 2), or "
                  "--virtual 1",
                  t.name, v));
}

}  // namespace

const std::vector<std::string>& schedule_kinds() {
  static const std::vector<std::string> kinds = schedule_names();
  return kinds;
}

Schedule generate_schedule(const ScheduleSpec& spec, int num_ranks) {
  if (!spec.recompute_stages.empty()) {
    // Selective recomputation is applied after the generator, so every
    // generator (including ones added later) honours it without knowing of it.
    const std::size_t stages = static_cast<std::size_t>(std::max(num_ranks, 1)) *
                               static_cast<std::size_t>(std::max(spec.virtual_stages, 1));
    if (spec.recompute_stages.size() != stages)
      throw InputError("--recompute", "",
                       fmt::format("{} per-stage recompute entries for {} stages; give one per stage",
                                   spec.recompute_stages.size(), stages));
    ScheduleSpec plain = spec;
    plain.recompute_stages.clear();
    plain.recompute = Recompute::never;
    Schedule s = generate_schedule(plain, num_ranks);
    insert_recompute(s, spec.recompute_stages);
    return s;
  }
  const ScheduleTraits& t = schedule_traits(spec.kind);
  if (num_ranks < 1)
    throw InputError("--ranks", "", fmt::format("a pipeline needs at least 1 rank, got {}", num_ranks));
  if (spec.microbatches < 1)
    throw InputError("--microbatches", "",
                     fmt::format("need at least 1 micro-batch, got {}", spec.microbatches));
  if (spec.virtual_stages < 1)
    throw InputError(
        "--virtual", "",
        fmt::format("need at least 1 virtual stage (chunk) per rank, got {}", spec.virtual_stages));
  if (spec.minibatches < 1)
    throw InputError("--minibatches", "", fmt::format("need at least 1 minibatch, got {}", spec.minibatches));
  check_chunks(t, spec.virtual_stages);
  const bool async = t.asynchronous();
  long long mbs = static_cast<long long>(spec.microbatches) * (async ? spec.minibatches : 1);
  long long cells = mbs * num_ranks * spec.virtual_stages;
  if (mbs > (1LL << 30) || cells > kMaxCells)
    throw InputError(async ? "--minibatches" : "--microbatches", "",
                     fmt::format("{} ranks x {} virtual stages x {} micro-batches is too large a "
                                 "schedule to generate (limit {} stage-micro-batches)",
                                 num_ranks, spec.virtual_stages, mbs, kMaxCells));

  switch (t.id) {
    case ScheduleKind::naive:
      return generate_naive(spec, num_ranks);
    case ScheduleKind::gpipe:
      return generate_gpipe(spec, num_ranks);
    case ScheduleKind::one_f_one_b:
      return generate_one_f_one_b(spec, num_ranks);
    case ScheduleKind::interleaved:
      return generate_interleaved(spec, num_ranks);
    case ScheduleKind::pipedream:
      return generate_pipedream(spec, num_ranks);
    case ScheduleKind::two_bw:
      return generate_two_bw(spec, num_ranks);
    case ScheduleKind::zb_h1:
      return generate_zb_h1(spec, num_ranks);
    case ScheduleKind::zb_h2:
      return generate_zb_h2(spec, num_ranks);
    case ScheduleKind::zbv:
      return generate_zbv(spec, num_ranks);
    case ScheduleKind::zb_auto:
      return generate_zb_auto(spec, num_ranks);
    case ScheduleKind::zb_interleaved:
      return generate_zb_interleaved(spec, num_ranks);
    case ScheduleKind::dualpipev:
      return generate_dualpipev(spec, num_ranks);
    case ScheduleKind::custom:
      break;
  }
  throw InputError("--schedule", "", fmt::format("schedule '{}' has no generator", t.name));
}

int stage_rank(const std::string& kind, int stage, int num_ranks, int /*virtual_stages*/) {
  return stage_rank(schedule_traits_or_custom(kind), stage, num_ranks);
}

}  // namespace pipekit
