// Training data saved from Python with torch.save: the tuple (inputs, targets)
// or a dict with those two keys. inputs: [N, ...] of any dtype, fed to the
// model's first layer as saved; targets: [N] or [N, ...], integer class ids
// (cross-entropy) or floats (mse, or a scripted loss). Read with LibTorch's
// pickle_load, which takes the zip files torch.save writes.
//
// A run reads rows in order: row g of the run (g = step * batch + row) is
// sample g mod N, so the data wraps around after N samples (an epoch) and no
// sample is dropped; a batch may straddle the wrap.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "executor/model_spec.h"

namespace pipekit {

struct TensorRows {
  torch::Tensor inputs, targets;  // the rows of one micro-batch (CPU, contiguous)
};

struct TensorDataset {
  std::string path;
  torch::Tensor inputs, targets;  // CPU
  std::int64_t samples() const { return inputs.size(0); }
  // Rows first .. first+count-1 (mod N).
  TensorRows rows(std::int64_t first, std::int64_t count) const;
};

// Whether `data` names a tensor file (ends in .pt or .pth) rather than text.
bool is_tensor_data(const std::string& data);

// Reads and checks the file. Throws InputError naming the file when it cannot
// be read, is not a (inputs, targets) pair of tensors, or their first
// dimensions differ.
TensorDataset load_tensor_data(const std::string& path);

// "float32", "int64", ...: the names --input-dtype takes and profiles record.
std::string dtype_name(torch::ScalarType t);
// Throws InputError(source) for an unknown name, listing the known ones.
torch::ScalarType parse_dtype(const std::string& name, const std::string& source);

// "[2, 3, 32, 32]"
std::string shape_text(torch::IntArrayRef shape);
// "3,32,32" -> {3, 32, 32}: one sample's shape. Throws InputError(source)
// unless every size is a positive integer.
std::vector<std::int64_t> parse_sample_shape(const std::string& text, const std::string& source);
// The model takes the file's inputs: their per-sample shape and dtype.
void take_inputs_of(ModelSpec& m, const TensorDataset& d);

}  // namespace pipekit
