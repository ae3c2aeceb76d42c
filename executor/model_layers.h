// The layers of a model as LibTorch callables: built-in GPT-2-style decoder and
// MLP, or TorchScript modules. A rank builds only the layers of its stages.
//
// Layer i of a built-in model draws its initial weights from layer_seed(seed, i)
// (GPT-2 init: normal(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer),
// LayerNorm 1/0, biases 0), so build_layers({i}) on any rank equals layer i of
// the whole model. With tie_weights the LM head starts from the token embedding
// (same draw); keeping the copies equal during training is the runtime's job.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "core/optimizer.h"
#include "core/precision.h"
#include "executor/loss_function.h"
#include "executor/model_spec.h"

namespace pipekit {

struct ModelLayer {
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  std::vector<torch::Tensor> params;  // trainable, in a fixed order
  std::shared_ptr<void> holder;       // keeps the module alive
  // TorchScript layers: moves the module (parameters and buffers, such as
  // running statistics) to a device, or casts it to a dtype; built-in layers
  // have parameters only.
  std::function<void(const torch::Device&)> to_device;
  std::function<void(torch::ScalarType)> to_dtype;
  // gpt with tie_weights: the embedding's token table (layer 0) or the head's
  // weight (last layer). For the head, *tied_slot is the tensor its forward
  // uses, so a one-process model can point it at the embedding's table.
  torch::Tensor tied_weight;
  std::shared_ptr<torch::Tensor> tied_slot;
};

// Builds the listed layers. For TorchScript, loads the files (throws InputError
// when a file cannot be loaded as TorchScript).
std::vector<ModelLayer> build_layers(const ModelSpec& m, const std::vector<int>& layers, std::uint64_t seed);

// Output shape of each layer for a micro-batch of `mb` rows (and `seq` tokens):
// what stage boundaries send and receive. TorchScript shapes come from a probe
// forward of one row through all layers.
std::vector<std::vector<std::int64_t>> layer_output_shapes(const ModelSpec& m, std::int64_t mb,
                                                           std::int64_t seq, std::uint64_t seed);

// The pieces of a training step that the pipeline and the one-process
// reference must compute identically.
torch::Tensor input_tensor(const struct MicroBatch& b);
// Zeros shaped as `rows` of the model's input (token ids [rows, seq], or the
// tensors' sample shape and dtype): for probes that need only shapes.
torch::Tensor example_input(const ModelSpec& m, std::int64_t rows, std::int64_t seq);
// Random inputs of that shape, for profiling and probes without data: normal
// floats drawn from `seed`, integer inputs all 0 (an index every embedding has).
torch::Tensor random_input(const ModelSpec& m, std::int64_t rows, std::int64_t seq, std::uint64_t seed);
torch::Tensor target_tensor(const struct MicroBatch& b);
// The loss (cross-entropy unless told otherwise; executor/loss_function.h),
// divided by `microbatches` so that the gradients accumulated over the
// micro-batches equal the full-batch mean's. Computed in fp32 whatever the
// logits' precision (as autocast does).
torch::Tensor scaled_loss(const torch::Tensor& logits, const torch::Tensor& targets, int microbatches,
                          const LossFunction& loss = LossFunction());
// sgd: plain SGD; momentum: SGD with momentum 0.9; adam: Adam (LibTorch's defaults).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(Optimizer o, const std::vector<torch::Tensor>& params,
                                                        double lr);
// One micro-batch through every layer of a TorchScript model and its loss, in
// fp32 without autograd. Throws InputError naming the layer (index, name,
// input shape and what the layer before gives) when a layer fails or returns
// something other than a tensor, and naming the data when the targets do not
// fit the loss; the first useful line of LibTorch's error is kept.
// `all_targets`, when given (a tensor file's), are checked whole against the
// output's classes: a class id anywhere in the file, not only in the first
// micro-batch, must fit.
void check_model_on_data(const ModelSpec& m, const struct MicroBatch& b, const LossFunction& loss,
                         const std::string& data_name, const torch::Tensor& all_targets = torch::Tensor());
// Runs `layers` in order.
torch::Tensor forward_layers(const std::vector<ModelLayer>& layers, torch::Tensor x);
// Moves every parameter to `dev` in place (set_data), so the layers' closures,
// modules and tied slots, which hold the same tensors, compute there.
void move_layers(std::vector<ModelLayer>& layers, const torch::Device& dev);

// The dtype of a precision's working weights and activations.
torch::ScalarType working_dtype(Precision p);
// Casts every floating parameter to `dtype` in place (set_data, as move_layers).
void cast_layers(std::vector<ModelLayer>& layers, torch::ScalarType dtype);
// A model input in the working precision: floating inputs cast, token ids kept.
torch::Tensor working_input(const torch::Tensor& x, torch::ScalarType dtype);
// Whether this LibTorch can train in `p` on `device` ("cpu" or "cuda"): a small
// linear layer's forward and backward run. Empty when it can; else why not.
std::string precision_unsupported(Precision p, const torch::Device& device);

// Causal self-attention of q, k, v shaped [batch, heads, seq, head dim]:
// LibTorch's fused scaled_dot_product_attention when `fused` (LibTorch 2.x;
// flash or memory-efficient kernels on CUDA), else softmax(QK^T / sqrt(d),
// future masked) V written out.
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               bool fused);
// Whether the LibTorch in use has the fused kernel (the built-in GPT uses it then).
bool fused_attention_available();
// All parameters of `layers`, flattened into one 1-D tensor (a copy).
torch::Tensor flat_params(const std::vector<ModelLayer>& layers);

}  // namespace pipekit
