// What model the executor trains, as plain data (no LibTorch), so the command
// line can validate a model name or file before any rank starts.
//
// Built-in models are chains of layers: `gpt-*` = [embedding, block x n_layer,
// final norm + LM head]; `mlp` = 8 Linear layers (ReLU between). A TorchScript
// model is an ordered list of scripted modules, one per layer, or one scripted
// nn.Sequential whose children become the layers. Layer i of a built-in model is
// initialised from layer_seed(seed, i) alone, so each rank can build only its own
// layers and still hold exactly the weights of the one-process model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pipekit {

enum class ModelKind { gpt, mlp, torchscript };
// What the first layer eats: token ids [mb, seq], the built-in mlp's feature
// vectors [mb, in], or tensors as a data file (or --input-shape) gives them.
enum class InputKind { tokens, features, tensors };

struct ModelSpec {
  std::string name;  // gpt-tiny, gpt2-small, ..., mlp, or "script:<files>"
  ModelKind kind = ModelKind::gpt;
  // gpt
  int n_layer = 0, d_model = 0, n_head = 0, vocab = 256, context = 0;
  bool tie_weights = false;  // LM head shares the token embedding
  // mlp
  int mlp_layers = 8, mlp_in = 32, mlp_hidden = 64, mlp_classes = 16;
  // torchscript: one file per layer, or one file holding a scripted Sequential
  std::vector<std::string> script_files;
  int script_layers = 0;  // filled by the loader (number of children) when known
  // torchscript fed tensors (a .pt data file, or profile's --input-shape): one
  // sample's shape and dtype ("float32", ...); empty dtype: token ids.
  std::vector<std::int64_t> sample_shape;
  std::string sample_dtype;
  int probe_seq = 0;  // token ids per row of the load-time probe (the run's seq; 0: 8)

  InputKind input() const {
    if (kind == ModelKind::mlp) return InputKind::features;
    return sample_dtype.empty() ? InputKind::tokens : InputKind::tensors;
  }
  // Layers in the chain; for a single-file TorchScript Sequential, script_layers.
  int num_layers() const;
};

// Names accepted by model_spec_from_name, in the order help text lists them.
const std::vector<std::string>& builtin_model_names();

// "gpt-tiny" ... "gpt2-xl", "mlp", or "script:a.pt,b.pt" / "script:seq.pt".
// Throws InputError(source, ...) for an unknown name or a missing script file.
ModelSpec model_spec_from_name(const std::string& name, const std::string& source);

// Layers of the model; for a single-file TorchScript Sequential this loads the
// file and counts its children. Throws InputError when a script cannot be loaded.
// (Implemented with LibTorch, in model_layers.cpp.)
int count_script_layers(const ModelSpec& m);

// The model a command names, with --vocab applied (gpt only, at least 256)
// and a TorchScript file's layers counted (defined with the layers, in
// model_layers.cpp). Throws InputError naming `source`.
ModelSpec resolve_model(const std::string& name, int vocab, const std::string& source);

// Seed of layer `layer` of a model seeded with `seed` (splitmix64 of both).
std::uint64_t layer_seed(std::uint64_t seed, int layer);

}  // namespace pipekit
