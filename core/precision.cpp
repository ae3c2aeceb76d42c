#include "core/precision.h"

#include <fmt/format.h>

#include "core/error.h"

namespace pipekit {

std::string to_string(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::bf16:
      return "bf16";
    case Precision::fp16:
      return "fp16";
  }
  return "fp32";
}

bool precision_from_string(const std::string& s, Precision& out) {
  if (s == "fp32" || s == "float32")
    out = Precision::fp32;
  else if (s == "bf16" || s == "bfloat16")
    out = Precision::bf16;
  else if (s == "fp16" || s == "float16")
    out = Precision::fp16;
  else
    return false;
  return true;
}

Precision parse_precision(const std::string& s, const std::string& source) {
  Precision p;
  if (!precision_from_string(s, p))
    throw InputError(source, "", fmt::format("'{}' is not a precision; use fp32, bf16 or fp16", s));
  return p;
}

int element_bytes(Precision p) {
  return p == Precision::fp32 ? 4 : 2;
}

bool mixed(Precision p) {
  return p != Precision::fp32;
}

ParameterBytes bytes_per_parameter(Precision p, Optimizer o) {
  ParameterBytes b;
  b.weights = element_bytes(p);
  b.master = mixed(p) ? 4 : 0;
  b.gradients = mixed(p) ? 4 + element_bytes(p) : 4;
  b.optimizer = static_cast<double>(optimizer_state_bytes(o, 4));  // fp32 state per parameter
  return b;
}

double static_memory_factor(Precision p, Optimizer o) {
  const ParameterBytes b = bytes_per_parameter(p, o);
  return b.total() / b.weights - 2;
}

double parameter_count(std::int64_t param_bytes, Precision stored_in) {
  return static_cast<double>(param_bytes) / element_bytes(stored_in);
}

}  // namespace pipekit
