#include "core/profile.h"

#include <fmt/format.h>
#include <cmath>

#include "core/error.h"
#include "core/layer_graph.h"

namespace pipekit {

bool Profile::is_chain() const {
  if (edges.empty()) return true;
  if (edges.size() + 1 != layers.size()) return false;
  for (std::size_t i = 0; i < edges.size(); ++i)
    if (edges[i].first != static_cast<int>(i) || edges[i].second != static_cast<int>(i) + 1) return false;
  return true;
}

ProfileTotals totals(const Profile& p) {
  ProfileTotals t;
  t.layers = static_cast<int>(p.layers.size());
  for (const auto& l : p.layers) {
    t.forward_ms += l.forward_ms;
    t.backward_ms += l.backward_ms;
    t.param_bytes += l.param_bytes;
    t.output_bytes += l.output_bytes;
    t.saved_bytes += l.saved_bytes;
    t.workspace_bytes += l.workspace_bytes;
  }
  t.param_count = static_cast<std::int64_t>(parameter_count(t.param_bytes, p.precision()));
  return t;
}

namespace {
void check_time(double v, const std::string& source, const std::string& where, const char* field) {
  if (!std::isfinite(v) || v < 0)
    throw InputError(source, where,
                     fmt::format("{} is {}; times must be finite and >= 0 milliseconds", field, v));
}
void check_size(std::int64_t v, const std::string& source, const std::string& where, const char* field) {
  if (v < 0) throw InputError(source, where, fmt::format("{} is {}; sizes must be >= 0 bytes", field, v));
}
}  // namespace

Precision Profile::precision() const {
  Precision p = Precision::fp32;
  precision_from_string(dtype, p);
  return p;
}

Optimizer Profile::training_optimizer() const {
  Optimizer o = Optimizer::adam;
  if (!optimizer.empty()) optimizer_from_string(optimizer, o);
  return o;
}

void validate(const Profile& p, const std::string& source) {
  if (p.layers.empty())
    throw InputError(source, "$.layers", "the model has no layers; a profile needs at least one layer");
  if (p.microbatch_size < 0 || p.seq_len < 0 || p.input_bytes < 0)
    throw InputError(source, "", "microbatch_size, seq_len and input_bytes must be >= 0");
  Precision precision;
  if (!precision_from_string(p.dtype, precision))
    throw InputError(
        source, "$.dtype",
        fmt::format("'{}' is not a precision the profile can be in; use fp32, bf16 or fp16", p.dtype));
  Optimizer optimizer;
  if (!p.optimizer.empty() && !optimizer_from_string(p.optimizer, optimizer))
    throw InputError(
        source, "$.optimizer",
        fmt::format("'{}' is not an optimizer pipekit knows; use adam, momentum or sgd (or leave "
                    "optimizer out when the profile has no step_ms)",
                    p.optimizer));
  if (!std::isfinite(p.weight_copy_bytes_per_s) || p.weight_copy_bytes_per_s < 0)
    throw InputError(source, "$.weight_copy_bytes_per_s",
                     fmt::format("weight_copy_bytes_per_s is {}; give a rate >= 0 bytes per second (0: none)",
                                 p.weight_copy_bytes_per_s));
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const Layer& l = p.layers[i];
    std::string where = fmt::format("$.layers[{}] ('{}')", i, l.name);
    if (l.step_ms) {
      check_time(*l.step_ms, source, where, "step_ms");
      if (p.optimizer.empty())
        throw InputError(source, where,
                         "step_ms is given but the profile names no optimizer; add \"optimizer\": \"adam\" "
                         "(or the one that was measured) at the top level");
    }
    check_time(l.forward_ms, source, where, "forward_ms");
    check_time(l.backward_ms, source, where, "backward_ms");
    if (l.input_grad_ms.has_value() != l.weight_grad_ms.has_value())
      throw InputError(source, where, "give both input_grad_ms and weight_grad_ms, or neither");
    if (l.input_grad_ms) {
      check_time(*l.input_grad_ms, source, where, "input_grad_ms");
      check_time(*l.weight_grad_ms, source, where, "weight_grad_ms");
      // I is part of the full backward; W, run as a second pass after I, may cost
      // more than B - I (it re-traverses the layer), so only I is bounded.
      if (*l.input_grad_ms > l.backward_ms * 1.001 + 1e-6)
        throw InputError(source, where,
                         fmt::format("input_grad_ms is {} but backward_ms is {}; the input-gradient part "
                                     "cannot take longer than the full backward",
                                     *l.input_grad_ms, l.backward_ms));
    }
    check_size(l.param_bytes, source, where, "param_bytes");
    check_size(l.output_bytes, source, where, "output_bytes");
    check_size(l.saved_bytes, source, where, "saved_bytes");
    check_size(l.workspace_bytes, source, where, "workspace_bytes");
  }
  const int n = static_cast<int>(p.layers.size());
  for (std::size_t e = 0; e < p.edges.size(); ++e) {
    auto [a, b] = p.edges[e];
    std::string where = fmt::format("$.edges[{}]", e);
    if (a < 0 || a >= n || b < 0 || b >= n)
      throw InputError(source, where,
                       fmt::format("edge {} -> {} names a layer that does not exist (layers are "
                                   "0..{})",
                                   a, b, n - 1));
    if (a == b) throw InputError(source, where, fmt::format("layer {} feeds itself", a));
  }
  if (auto v = find_cycle(build_layer_dag(p)))
    throw InputError(source, "$.edges",
                     fmt::format("the layer graph has a cycle through layer {} ('{}'); a model "
                                 "must be a DAG",
                                 *v, p.layers[*v].name));
}

}  // namespace pipekit
