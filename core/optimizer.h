// The optimizers pipekit trains with and models: their names and the state
// they keep per parameter byte. One enum for the simulator, the planner and
// the executor.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

namespace pipekit {

enum class Optimizer { sgd, momentum, adam };

std::string to_string(Optimizer o);
// "sgd", "momentum", "adam" (or "adamw"); false for anything else.
bool optimizer_from_string(const std::string& s, Optimizer& out);

// `name` as one of `allowed`; an InputError from `source` naming them otherwise
// (the executor trains with adam and sgd only).
Optimizer parse_optimizer(const std::string& name, const std::string& source,
                          std::initializer_list<Optimizer> allowed);

// Optimizer state per stage: adam two moments (2x parameter bytes), momentum one, sgd none.
std::int64_t optimizer_state_bytes(Optimizer o, std::int64_t param_bytes);

}  // namespace pipekit
