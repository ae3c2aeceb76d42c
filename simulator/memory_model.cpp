#include "simulator/memory_model.h"

#include <algorithm>

namespace pipekit {

std::string to_string(Optimizer o) {
  switch (o) {
    case Optimizer::sgd:
      return "sgd";
    case Optimizer::momentum:
      return "momentum";
    case Optimizer::adam:
      return "adam";
  }
  return "adam";
}

bool optimizer_from_string(const std::string& s, Optimizer& out) {
  if (s == "sgd")
    out = Optimizer::sgd;
  else if (s == "momentum")
    out = Optimizer::momentum;
  else if (s == "adam" || s == "adamw")
    out = Optimizer::adam;
  else
    return false;
  return true;
}

std::int64_t optimizer_state_bytes(Optimizer o, std::int64_t param_bytes) {
  switch (o) {
    case Optimizer::sgd:
      return 0;
    case Optimizer::momentum:
      return param_bytes;
    case Optimizer::adam:
      return 2 * param_bytes;
  }
  return 0;
}

int weight_versions(const std::string& kind, int stage, int num_stages) {
  if (kind == "pipedream") return std::max(1, num_stages - stage);
  if (kind == "2bw") return 2;
  return 1;
}

std::int64_t stashed_activation_bytes(const StageCost& c, bool recompute) {
  return recompute ? c.input_bytes : c.saved_bytes;
}

StaticMemory static_memory(const StageCost& c, const std::string& kind, int stage, int num_stages,
                           Optimizer o) {
  StaticMemory m;
  m.weights = c.param_bytes * weight_versions(kind, stage, num_stages);
  m.gradients = c.param_bytes;
  m.optimizer = optimizer_state_bytes(o, c.param_bytes);
  return m;
}

}  // namespace pipekit
