#include "executor/batch_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/formats.h"
#include "executor/tensor_data.h"

namespace pipekit {

BatchSource::BatchSource(const ModelSpec& model, const std::string& data, int batch, int seq,
                         int microbatches, std::uint64_t seed, bool load_now)
    : data_(data), model_(model), batch_(batch), seq_(seq), microbatches_(microbatches), seed_(seed) {
  if (is_tensor_data(data)) {
    if (model.kind != ModelKind::torchscript)
      throw InputError("--data", "",
                       "tensor files feed TorchScript models (--model script:FILE); model '" + model.name +
                           "' takes " + (model.input() == InputKind::tokens ? "text" : "random features"));
    description_ = data;
    if (load_now) {
      auto t = tensors();
      if (t->samples() < batch)
        throw InputError(data, "inputs",
                         fmt::format("{} samples, fewer than one step's batch of {}; give more samples or a "
                                     "smaller --batch",
                                     t->samples(), batch));
      description_ =
          fmt::format("{} ({} samples, inputs {} {}, targets {} {}; wraps after {})", data, t->samples(),
                      shape_text(t->inputs.sizes()), dtype_name(t->inputs.scalar_type()),
                      shape_text(t->targets.sizes()), dtype_name(t->targets.scalar_type()), t->samples());
    }
    return;
  }
  if (model.input() == InputKind::tensors)
    throw InputError("--data", "",
                     "model '" + model.name +
                         "' takes tensors; give them as --data FILE.pt (torch.save((inputs, "
                         "targets), FILE.pt))");
  if (model.input() == InputKind::features) {
    if (!data.empty() && data != "random")
      throw InputError("--data", "",
                       "model '" + model.name + "' takes feature vectors, not text; use --data random");
    random_ = true;
    description_ = "random features";
    return;
  }
  if (data == "random") {
    random_ = true;
    description_ = "random tokens";
    return;
  }
  if (data.empty()) {
    text_ = default_corpus();
    description_ = "built-in corpus (" + std::to_string(text_.size()) + " bytes)";
  } else {
    text_ = read_text_file(data);
    description_ = data + " (" + std::to_string(text_.size()) + " bytes)";
  }
  if (text_.size() < static_cast<std::size_t>(seq) + 2)
    throw InputError(data.empty() ? "built-in corpus" : data, "",
                     "text has " + std::to_string(text_.size()) + " bytes, fewer than --seq " +
                         std::to_string(seq) + " + 2; use a longer text or a smaller --seq");
}

std::shared_ptr<const TensorDataset> BatchSource::tensors() const {
  if (!tensors_ && is_tensor_data(data_)) tensors_ = std::make_shared<TensorDataset>(load_tensor_data(data_));
  return tensors_;
}

MicroBatch BatchSource::get(int step, int microbatch) const {
  const int mb = batch_ / microbatches_;
  MicroBatch out;
  const std::int64_t first_row =
      static_cast<std::int64_t>(step) * batch_ + static_cast<std::int64_t>(microbatch) * mb;
  if (is_tensor_data(data_)) {
    out.rows = std::make_shared<TensorRows>(tensors()->rows(first_row, mb));
    out.input_shape = out.rows->inputs.sizes().vec();
    out.target_shape = out.rows->targets.sizes().vec();
    return out;
  }
  if (model_.input() == InputKind::features) {
    out.input_shape = {mb, model_.mlp_in};
    out.target_shape = {mb};
    for (int r = 0; r < mb; ++r) {
      std::mt19937_64 gen(seed_ * 1000003ULL + static_cast<std::uint64_t>(first_row + r));
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      float sum = 0;
      for (int k = 0; k < model_.mlp_in; ++k) {
        float x = u(gen);
        out.features.push_back(x);
        if (k < 4) sum += x;
      }
      // A learnable label: which of mlp_classes bins the first features' sum falls in.
      int c = static_cast<int>((sum + 4.0f) / 8.0f * static_cast<float>(model_.mlp_classes));
      out.targets.push_back(std::clamp(c, 0, model_.mlp_classes - 1));
    }
    return out;
  }
  out.input_shape = {mb, seq_};
  out.target_shape = {mb, seq_};
  const int vocab = std::min(model_.kind == ModelKind::gpt ? model_.vocab : 256, 256);
  for (int r = 0; r < mb; ++r) {
    const std::int64_t g = first_row + r;
    if (random_) {
      std::mt19937_64 gen(seed_ * 1000003ULL + static_cast<std::uint64_t>(g));
      std::vector<std::int64_t> row(seq_ + 1);
      for (auto& t : row) t = static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(vocab));
      out.tokens.insert(out.tokens.end(), row.begin(), row.end() - 1);
      out.targets.insert(out.targets.end(), row.begin() + 1, row.end());
    } else {
      const std::int64_t span = static_cast<std::int64_t>(text_.size()) - seq_ - 1;
      const std::int64_t start = (g * seq_) % span;
      for (int k = 0; k < seq_; ++k) {
        out.tokens.push_back(static_cast<unsigned char>(text_[start + k]));
        out.targets.push_back(static_cast<unsigned char>(text_[start + k + 1]));
      }
    }
  }
  return out;
}

}  // namespace pipekit
