// TorchScript layers: the children of a scripted nn.Sequential, or one
// scripted module per file.
//
// The contract between layers: a layer takes what the layer before it
// returned, one tensor or the elements of a tuple as separate arguments, and
// returns one tensor or a tuple of floating-point tensors, each with the
// micro-batch's rows along dimension 0 (e.g. a hidden state and a skip
// connection). The first layer takes the data's inputs as saved; the last
// returns one tensor, which the loss takes.
//
// A tuple travels packed, between layers and between stages: every element
// flattened per row and concatenated, [rows, sum of per-row sizes], in the
// first element's dtype. One message carries it, the profiler counts all of it
// as the layer's output (so the planner's cut cost is the sum), and autograd
// flows through the concatenation and the split. The next layer unpacks it by
// the per-row shapes a probe recorded when the model was loaded: one zero row
// (one sample, or `seq` token ids) through every layer, without autograd and
// in eval mode (running statistics untouched; layers are trained in train mode).
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "executor/model_layers.h"
#include "executor/model_spec.h"

namespace pipekit {

// What a layer returns, per row.
struct LayerOutput {
  bool tuple = false;
  std::vector<std::vector<std::int64_t>> row_shapes;  // one per element (one for a tensor)
};

struct ScriptModel {
  std::vector<torch::jit::Module> mods;   // every layer, in order
  std::vector<std::string> files, names;  // where each comes from; its name for messages
  std::vector<LayerOutput> outputs;       // the probe's
};

// Loads every layer and probes it. Throws InputError naming the file and the
// layer when a file is not TorchScript, a layer fails on the probe's input, or
// returns something other than a tensor or a tuple of floating tensors (or a
// tuple from the last layer).
ScriptModel load_script_model(const ModelSpec& m);

// Layer i as a callable, packing and unpacking tuples as above.
ModelLayer script_layer(const ScriptModel& s, int i);

// The named children of a scripted module (its layers); InputError when the
// file cannot be loaded or the module has no children.
std::vector<torch::jit::NameModule> script_children(const std::string& file);

}  // namespace pipekit
