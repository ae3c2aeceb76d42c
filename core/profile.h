// A model profile: per-layer costs measured on one device at one micro-batch size.
//
// Times are milliseconds per micro-batch, sizes bytes. `output_bytes` is what a
// layer sends to its consumers (what crosses a stage boundary); `saved_bytes` is
// the activation memory it keeps from forward until backward. When the split is
// measured, input_grad_ms (<= backward_ms) is the input-gradient pass alone and
// weight_grad_ms the weight-gradient pass run after it (zero-bubble I and W);
// the two may add up to more than one full backward. `edges` make a DAG
// (producer -> consumer, layer indices); empty edges mean a chain in layer order.
// validate() enforces the invariants; every reader calls it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/precision.h"

namespace pipekit {

struct Layer {
  std::string name;
  std::string kind;         // operator type, e.g. "Linear", "TransformerBlock"
  std::string description;  // optional free text, e.g. "Conv2d(3, 64, kernel_size=(3, 3))"
  double forward_ms = 0;
  double backward_ms = 0;
  std::optional<double> input_grad_ms;   // part of backward_ms
  std::optional<double> weight_grad_ms;  // part of backward_ms
  std::int64_t param_bytes = 0;
  std::int64_t output_bytes = 0;
  std::int64_t saved_bytes = 0;
  std::int64_t workspace_bytes = 0;
  std::optional<double> step_ms;  // the optimizer step of this layer's parameters
};

struct Profile {
  std::string model;
  std::string device = "unknown";
  std::string dtype = "fp32";          // the precision it was measured in (core/precision.h names)
  int microbatch_size = 0;             // samples per micro-batch; 0 when not recorded
  int seq_len = 0;                     // 0 when not applicable
  std::int64_t input_bytes = 0;        // bytes of one micro-batch of model input
  std::string optimizer;               // what step_ms measured (adam, sgd); empty: no step costs
  double weight_copy_bytes_per_s = 0;  // measured copy rate; 0: none
  std::vector<Layer> layers;
  std::vector<std::pair<int, int>> edges;   // empty: chain
  std::map<std::string, std::string> meta;  // machine, library versions, settings, source

  bool is_chain() const;        // no edges, or edges that form exactly the chain 0->1->...->n-1
  Precision precision() const;  // dtype as a Precision (validate() checks it names one)
  // The optimizer the profile's step costs measured, else adam (pipekit run's default).
  Optimizer training_optimizer() const;
};

struct ProfileTotals {
  int layers = 0;
  double forward_ms = 0, backward_ms = 0;
  std::int64_t param_bytes = 0, output_bytes = 0, saved_bytes = 0, workspace_bytes = 0;
  std::int64_t param_count = 0;  // parameters: param_bytes over the bytes of one in the profile's dtype
};

ProfileTotals totals(const Profile& p);

// Throws InputError naming `source` and the offending layer or edge for: an empty
// model, negative or non-finite times and sizes, a split that does not add up,
// edges to unknown layers, self edges and cycles.
void validate(const Profile& p, const std::string& source);

}  // namespace pipekit
