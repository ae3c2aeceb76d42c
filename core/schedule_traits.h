// Every schedule pipekit knows, as one table of traits. Whatever depends on
// the kind of a schedule (flush or asynchronous, chunks per rank and where they
// sit, weight versions kept, how many micro-batches' activations a stage holds,
// how weights are updated) looks its row up here once; no other file compares
// schedule names.
//
// A row's generator lives in planner/schedules/<generator_file> and is chosen
// by `id` (planner/schedule_generator.cpp): core cannot depend on the planner.
// Schedules read from a file under a name that is not in the table run as
// `custom`: a flush schedule, one stage per rank, placed as the file says.
#pragma once

#include <cstdint>

#include <algorithm>

#include <string>
#include <string_view>
#include <vector>

namespace pipekit {

enum class ScheduleKind {
  naive,
  gpipe,
  one_f_one_b,
  interleaved,
  pipedream,
  two_bw,
  zb_h1,
  zb_h2,
  zbv,
  zb_auto,
  zb_interleaved,
  dualpipev,
  custom
};

// When and from what a stage's weights are updated.
enum class WeightUpdate {
  flush,             // the step's micro-batches' gradients summed, one update after all of them
  every_microbatch,  // pipedream: an update after every backward, applied to the newest weights
  delayed_minibatch  // 2bw: one update per minibatch, its gradients computed on weights one minibatch old
};

// Where global stage s of S = p * v lives.
enum class StagePlacement {
  loop,    // rank s % p (one stage per rank when v = 1; interleaved loops v times)
  v_shape  // zbv, dualpipev: rank r holds stage r and stage 2p-1-r
};

// Weight versions a stage keeps.
enum class WeightVersionRule {
  one,          // flush schedules
  stage_depth,  // pipedream: p - s on stage s of p (one per micro-batch in flight)
  two           // 2bw: the newest and the one before
};

// Most micro-batches whose activations stage s of p holds at once (m per step).
enum class InFlightRule {
  one,            // naive: one micro-batch in the whole pipeline
  all,            // gpipe: every forward before any backward
  stage_depth,    // 1F1B family (zb-interleaved as interleaved 1F1B): min(p - s, m)
  twice_depth,    // zb-h2: min(2(p - s) - 1, m), warm-up doubled to fill the bubble
  pipeline_depth  // zb-auto, dualpipev: min(p, m) on every stage (1F1B's peak, rank 0's),
                  // later stages use it to defer W where the costs leave gaps
};

struct ScheduleTraits {
  ScheduleKind id;
  std::string_view name;            // as users and files spell it
  std::string_view generator_file;  // under planner/schedules/; empty: not generated (custom)
  std::string_view summary;
  int min_chunks, max_chunks;  // virtual stages per rank; max_chunks 0: no upper bound
  int search_chunks;           // chunks per rank the plan search tries
  StagePlacement placement;
  WeightVersionRule versions;
  InFlightRule in_flight;
  WeightUpdate update;
  bool splits_backward;  // zero-bubble: backward split into I (input gradient) and W (weights)
  // The generator's order depends on the stage costs (ScheduleSpec::cost_hint):
  // commands that know the costs fill the hint before generating.
  bool uses_costs = false;

  // No flush: the run is one stream of minibatches (pipedream, 2bw).
  bool asynchronous() const { return update != WeightUpdate::flush; }
  // Chunks per rank when `asked` virtual stages are asked for: a kind with a
  // fixed count (zbv, dualpipev: 2) has it whatever is asked.
  int chunks(int asked) const { return min_chunks == max_chunks ? min_chunks : std::max(1, asked); }
  bool generated() const { return !generator_file.empty(); }
};

// The generated schedules, in the order tables and help texts list them.
const std::vector<ScheduleTraits>& schedule_table();
// Names of schedule_table()'s rows, in order.
std::vector<std::string> schedule_names();
// "naive, gpipe, ..." for messages and help texts.
std::string schedule_name_list();

// The row named `name`, or nullptr (custom is not a name one can ask for).
const ScheduleTraits* find_schedule(std::string_view name);
// The row named `name`; throws InputError(source, "", "unknown schedule ... choose one of ...").
const ScheduleTraits& schedule_traits(std::string_view name, const std::string& source = "--schedule");
// The row of `kind`.
const ScheduleTraits& schedule_traits(ScheduleKind kind);
// The row named `name`, or the custom row for a name not in the table (schedules read from files).
const ScheduleTraits& schedule_traits_or_custom(std::string_view name);

// Rank holding global stage `stage` with p ranks.
int stage_rank(const ScheduleTraits& t, int stage, int num_ranks);
// Weight versions stage `stage` of `num_stages` keeps, on each of its `replicas`.
// Asynchronous replicas take whole micro-batches in turn, so pipedream's
// versions (one per micro-batch in flight) are shared out: ceil(depth / r).
int weight_versions(const ScheduleTraits& t, int stage, int num_stages, int replicas = 1);
// Micro-batches whose activations stage `stage` of `stages` holds at most, with m per step.
int in_flight_microbatches(const ScheduleTraits& t, int stage, int stages, int microbatches);

// The share of a stage's per-micro-batch activation bytes (saved, sent,
// received) one of its r replicas holds, as num / den. A flush schedule splits
// every micro-batch among the replicas: 1 / r. An asynchronous one deals whole
// micro-batches in turn, so the busiest replica holds ceil(k / r) of the k the
// stage has in flight, each whole: ceil(k / r) / k.
struct ReplicaShare {
  std::int64_t num = 1, den = 1;
};
ReplicaShare replica_activation_share(const ScheduleTraits& t, int stage, int stages, int microbatches,
                                      int replicas);

}  // namespace pipekit
