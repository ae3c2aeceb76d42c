#include "core/optimizer.h"

#include <algorithm>

#include "core/error.h"

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

Optimizer parse_optimizer(const std::string& name, const std::string& source,
                          std::initializer_list<Optimizer> allowed) {
  Optimizer o;
  if (optimizer_from_string(name, o) && name != "adamw" &&
      std::find(allowed.begin(), allowed.end(), o) != allowed.end())
    return o;
  std::string names;
  for (Optimizer a : allowed) names += (names.empty() ? "" : ", ") + to_string(a);
  throw InputError(source, "", "'" + name + "' is not one of " + names);
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

}  // namespace pipekit
