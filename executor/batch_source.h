// Training batches, identical on every rank that asks for the same (step,
// micro-batch): the first stage takes the inputs, the last stage the targets,
// and the one-process reference both.
//
// Text: bytes of a file (byte-level tokenizer, ids 0..255) packed into
// sequences of seq+1 bytes; row g of the run (g = step * batch + row) starts at
// byte (g * seq) mod (size - seq - 1); targets are inputs shifted by one.
// Random tokens / features come from std::mt19937_64 (fully specified by the
// standard, so every rank and platform draws the same numbers).
// Tensor files (.pt, executor/tensor_data.h): row g is sample g mod N; the
// file is read when the first batch is asked for, so ranks that need no data
// (middle stages) never hold it.
// No LibTorch in this header: batches are plain vectors, or for tensor files
// rows the runtime reads through tensor_data.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "executor/model_spec.h"

namespace pipekit {

struct TensorRows;
struct TensorDataset;

struct MicroBatch {
  std::vector<std::int64_t> input_shape;   // [mb, seq] tokens or [mb, in] features
  std::vector<std::int64_t> tokens;        // when the model takes tokens
  std::vector<float> features;             // when it takes feature vectors
  std::vector<std::int64_t> target_shape;  // [mb, seq] or [mb]
  std::vector<std::int64_t> targets;       // class ids
  std::shared_ptr<const TensorRows> rows;  // a tensor file's rows (inputs and targets)
};

class BatchSource {
 public:
  // data: "" = the shipped corpus, "random" = random tokens/features, a
  // tensor file (.pt, .pth), else a text file. Throws InputError when the file
  // is unreadable, too short or of the wrong kind for the model. A tensor file
  // is read at once when load_now, else at the first get().
  BatchSource(const ModelSpec& model, const std::string& data, int batch, int seq, int microbatches,
              std::uint64_t seed, bool load_now = true);

  MicroBatch get(int step, int microbatch) const;
  const std::string& description() const { return description_; }
  // The tensor file's contents (loaded if it was not); null for other data.
  std::shared_ptr<const TensorDataset> tensors() const;

 private:
  std::string data_;
  mutable std::shared_ptr<const TensorDataset> tensors_;
  ModelSpec model_;
  bool random_ = false;
  std::string text_;
  std::string description_;
  int batch_, seq_, microbatches_;
  std::uint64_t seed_;
};

// The corpus compiled into the binary (see executor/data/README.md).
const std::string& default_corpus();

}  // namespace pipekit
