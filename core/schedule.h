// A pipeline schedule: per rank, the ordered list of actions it performs in one
// training step (or, for asynchronous schedules, in the simulated window).
//
// This is the one representation the planner produces and the simulator and
// executor consume unchanged. Stages are global (virtual) stage indices;
// stage_to_rank says which rank holds each one. A schedule is "lowered" when it
// also carries the SEND/RECV actions between ranks.
//
// Text form: one line per rank, "rank R: a1 a2 ...". CSV form: one row per rank,
// one action per cell, exactly as torch.distributed.pipelining's _dump_csv
// writes it (empty cells are idle slots and are skipped on reading).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"

namespace pipekit {

struct Schedule {
  std::string kind = "custom";  // generator name: gpipe, 1f1b, interleaved, ...
  int num_ranks = 0;
  int num_stages = 0;  // global stages, ranks * virtual stages per rank
  int num_microbatches = 0;
  std::vector<int> stage_to_rank;            // size num_stages
  std::vector<std::vector<Action>> actions;  // size num_ranks

  bool lowered() const;  // contains any SEND/RECV action
  std::size_t action_count() const;
  int virtual_stages() const { return num_ranks ? num_stages / num_ranks : 0; }
};

std::string format_schedule_text(const Schedule& s);
// Parses format_schedule_text() output. Lines without "rank R:" are taken in
// order as ranks 0, 1, ...; '#' starts a comment. Metadata not in the text
// (stage placement, counts) is inferred from the actions.
Schedule parse_schedule_text(std::string_view text, const std::string& source);

std::string format_schedule_csv(const Schedule& s);
Schedule parse_schedule_csv(std::string_view text, const std::string& source);

// Fills num_ranks, num_stages, num_microbatches and stage_to_rank from the
// actions. Throws InputError when a stage appears on two ranks.
void infer_schedule_shape(Schedule& s, const std::string& source);

}  // namespace pipekit
