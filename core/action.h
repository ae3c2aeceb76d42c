// One step of a pipeline schedule, as torch.distributed.pipelining spells it.
//
// Text form: "{stage}{TYPE}{microbatch}", e.g. "0F3", "2SEND_B1", "1W0".
// Step-level actions carry no micro-batch: "3REDUCE_GRAD", "3STEP".
// `stage` is the global (virtual) stage index, not the rank. Parsing accepts
// exactly what to_string() prints, so print -> parse round-trips.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pipekit {

enum class ActionType : std::uint8_t {
  F,            // forward of one micro-batch
  B,            // full backward (input and weight gradients)
  I,            // backward for inputs only (zero-bubble)
  W,            // backward for weights only (zero-bubble)
  R,            // recompute the stage forward before its backward (activation checkpointing)
  SEND_F,       // send forward activation to the next stage
  RECV_F,       // receive forward activation from the previous stage
  SEND_B,       // send input gradient to the previous stage
  RECV_B,       // receive output gradient from the next stage
  REDUCE_GRAD,  // all-reduce weight gradients among a stage's replicas (step level)
  STEP,         // optimizer step (step level)
};

inline constexpr int kActionTypeCount = 11;

struct Action {
  int stage = 0;
  ActionType type = ActionType::F;
  int microbatch = -1;  // -1 for step-level actions

  friend bool operator==(const Action&, const Action&) = default;
};

std::string_view to_string(ActionType t);
std::optional<ActionType> action_type_from_string(std::string_view s);

bool is_compute(ActionType t);     // F, B, I, W, R
bool is_comm(ActionType t);        // SEND_*, RECV_*
bool is_step_level(ActionType t);  // REDUCE_GRAD, STEP: no micro-batch
bool is_backward(ActionType t);    // B, I, W

std::string to_string(const Action& a);
// Returns nullopt when `text` is not a well-formed action token.
std::optional<Action> parse_action(std::string_view text);

}  // namespace pipekit
