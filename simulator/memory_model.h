// What a rank keeps in device memory while a schedule runs, by term.
//
// Static terms (held for the whole step): weights x the versions the schedule
// keeps (flush schedules 1; pipedream p-s on stage s of p, one per in-flight
// micro-batch: warm-up + 1; 2bw 2), gradients (1x parameters) and optimizer state
// (adam: two fp32 moments = 2x parameter bytes, assuming fp32 parameters;
// momentum 1x; sgd 0). Dynamic terms, tracked by the simulator as actions run:
// activations (a forward keeps the stage's saved_bytes until its last backward;
// with recomputation only input_bytes until the recompute, which brings back
// saved_bytes for that one micro-batch) and buffers (bytes of transfers in
// flight on either end, plus the running action's workspace).
#pragma once

#include <cstdint>
#include <string>

#include "simulator/stage_costs.h"

namespace pipekit {

enum class Optimizer { sgd, momentum, adam };
std::string to_string(Optimizer o);
bool optimizer_from_string(const std::string& s, Optimizer& out);

std::int64_t optimizer_state_bytes(Optimizer o, std::int64_t param_bytes);

// Weight versions a stage holds under schedule `kind` (stage in 0..num_stages-1).
int weight_versions(const std::string& kind, int stage, int num_stages);

// Bytes a forward of `c` keeps per micro-batch until its backward (or recompute).
std::int64_t stashed_activation_bytes(const StageCost& c, bool recompute);

struct StaticMemory {
  std::int64_t weights = 0, gradients = 0, optimizer = 0;
};
// Static terms of one stage.
StaticMemory static_memory(const StageCost& c, const std::string& kind, int stage, int num_stages,
                           Optimizer o);

}  // namespace pipekit
