#include "planner/schedule_generator.h"

#include <fmt/format.h>

#include "core/error.h"
#include "planner/schedules/gpipe.h"
#include "planner/schedules/interleaved.h"
#include "planner/schedules/naive.h"
#include "planner/schedules/one_f_one_b.h"
#include "planner/schedules/pipedream.h"
#include "planner/schedules/two_bw.h"
#include "planner/schedules/zb_h1.h"
#include "planner/schedules/zb_h2.h"
#include "planner/schedules/zbv.h"

namespace pipekit {
namespace {

std::string kind_list() {
  std::string out;
  for (const auto& k : schedule_kinds()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Generated lists hold about 3 * stages * micro-batches actions; refuse sizes
// that would exhaust memory instead of failing somewhere deep inside.
constexpr long long kMaxCells = 1LL << 28;

}  // namespace

const std::vector<std::string>& schedule_kinds() {
  static const std::vector<std::string> kinds = {"naive",     "gpipe", "1f1b",  "interleaved", "pipedream",
                                                 "2bw",       "zb-h1", "zb-h2", "zbv"};
  return kinds;
}

int stage_rank(const std::string& kind, int stage, int num_ranks, int virtual_stages) {
  (void)virtual_stages;
  if (num_ranks <= 0) return 0;
  if (kind == "zbv") return stage < num_ranks ? stage : 2 * num_ranks - 1 - stage;
  return stage % num_ranks;  // interleaved; one stage per rank otherwise (stage < num_ranks)
}

Schedule generate_schedule(const ScheduleSpec& spec, int num_ranks) {
  const std::string& k = spec.kind;
  bool known = false;
  for (const auto& name : schedule_kinds()) known = known || name == k;
  if (!known)
    throw InputError("--schedule", "",
                     fmt::format("unknown schedule '{}'; choose one of: {}", k, kind_list()));
  if (num_ranks < 1)
    throw InputError("--ranks", "",
                     fmt::format("a pipeline needs at least 1 rank, got {}", num_ranks));
  if (spec.microbatches < 1)
    throw InputError("--microbatches", "",
                     fmt::format("need at least 1 micro-batch, got {}", spec.microbatches));
  if (spec.virtual_stages < 1)
    throw InputError("--virtual", "",
                     fmt::format("need at least 1 virtual stage (chunk) per rank, got {}",
                                 spec.virtual_stages));
  if (spec.minibatches < 1)
    throw InputError("--minibatches", "",
                     fmt::format("need at least 1 minibatch, got {}", spec.minibatches));
  if (k == "zbv") {
    if (spec.virtual_stages != 2)
      throw InputError("--virtual", "",
                       fmt::format("zbv needs exactly 2 chunks per rank (a V: rank r holds stages "
                                   "r and 2p-1-r), got {}; pass --virtual 2",
                                   spec.virtual_stages));
  } else if (k != "interleaved" && spec.virtual_stages != 1) {
    throw InputError("--virtual", "",
                     fmt::format("schedule '{}' runs one stage per rank, but {} virtual stages "
                                 "were asked for; use --schedule interleaved for several chunks "
                                 "per rank (or zbv with exactly 2), or --virtual 1",
                                 k, spec.virtual_stages));
  }
  const bool async = k == "pipedream" || k == "2bw";
  long long mbs = static_cast<long long>(spec.microbatches) * (async ? spec.minibatches : 1);
  long long cells = mbs * num_ranks * spec.virtual_stages;
  if (mbs > (1LL << 30) || cells > kMaxCells)
    throw InputError(async ? "--minibatches" : "--microbatches", "",
                     fmt::format("{} ranks x {} virtual stages x {} micro-batches is too large a "
                                 "schedule to generate (limit {} stage-micro-batches)",
                                 num_ranks, spec.virtual_stages, mbs, kMaxCells));

  if (k == "naive") return generate_naive(spec, num_ranks);
  if (k == "gpipe") return generate_gpipe(spec, num_ranks);
  if (k == "1f1b") return generate_one_f_one_b(spec, num_ranks);
  if (k == "interleaved") return generate_interleaved(spec, num_ranks);
  if (k == "pipedream") return generate_pipedream(spec, num_ranks);
  if (k == "2bw") return generate_two_bw(spec, num_ranks);
  if (k == "zb-h1") return generate_zb_h1(spec, num_ranks);
  if (k == "zb-h2") return generate_zb_h2(spec, num_ranks);
  return generate_zbv(spec, num_ranks);
}

}  // namespace pipekit
