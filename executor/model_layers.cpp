#include "executor/model_layers.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/version.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <numeric>

#include "core/error.h"
#include "executor/batch_source.h"
#include "executor/script_layers.h"
#include "executor/tensor_data.h"
#include "executor/torch_error.h"

namespace pipekit {
namespace {

torch::Tensor param(torch::Tensor t) {
  return t.detach().set_requires_grad(true);
}
torch::Tensor normal(std::vector<std::int64_t> shape, double std) {
  return torch::randn(shape) * std;
}

// Draws the token embedding; the head draws the same when weights are tied.
torch::Tensor draw_wte(const ModelSpec& m, std::uint64_t seed) {
  torch::manual_seed(layer_seed(seed, 0));
  return normal({m.vocab, m.d_model}, 0.02);
}

ModelLayer gpt_embedding(const ModelSpec& m, std::uint64_t seed) {
  auto wte = param(draw_wte(m, seed));
  auto wpe = param(normal({m.context, m.d_model}, 0.02));  // same generator stream, after wte
  ModelLayer l;
  l.params = {wte, wpe};
  if (m.tie_weights) l.tied_weight = wte;
  l.forward = [wte, wpe](const torch::Tensor& tokens) {
    const auto seq = tokens.size(1);
    return torch::embedding(wte, tokens) + wpe.narrow(0, 0, seq);
  };
  return l;
}

ModelLayer gpt_block(const ModelSpec& m, int layer, std::uint64_t seed) {
  torch::manual_seed(layer_seed(seed, layer));
  const std::int64_t d = m.d_model;
  const double proj_std = 0.02 / std::sqrt(2.0 * m.n_layer);
  auto ln1_w = param(torch::ones({d})), ln1_b = param(torch::zeros({d}));
  auto attn_w = param(normal({3 * d, d}, 0.02)), attn_b = param(torch::zeros({3 * d}));
  auto proj_w = param(normal({d, d}, proj_std)), proj_b = param(torch::zeros({d}));
  auto ln2_w = param(torch::ones({d})), ln2_b = param(torch::zeros({d}));
  auto fc_w = param(normal({4 * d, d}, 0.02)), fc_b = param(torch::zeros({4 * d}));
  auto fc2_w = param(normal({d, 4 * d}, proj_std)), fc2_b = param(torch::zeros({d}));
  ModelLayer l;
  l.params = {ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fc2_w, fc2_b};
  const std::int64_t heads = m.n_head, hd = d / m.n_head;
  const bool fused = fused_attention_available();
  l.forward = [=](const torch::Tensor& x) {
    const auto B = x.size(0), T = x.size(1);
    auto h = torch::layer_norm(x, {d}, ln1_w, ln1_b, 1e-5);
    auto qkv = torch::linear(h, attn_w, attn_b).chunk(3, -1);
    auto q = qkv[0].view({B, T, heads, hd}).transpose(1, 2);
    auto k = qkv[1].view({B, T, heads, hd}).transpose(1, 2);
    auto v = qkv[2].view({B, T, heads, hd}).transpose(1, 2);
    auto y = causal_attention(q, k, v, fused).transpose(1, 2).contiguous().view({B, T, d});
    auto r = x + torch::linear(y, proj_w, proj_b);
    auto h2 = torch::layer_norm(r, {d}, ln2_w, ln2_b, 1e-5);
    return r + torch::linear(torch::gelu(torch::linear(h2, fc_w, fc_b), "tanh"), fc2_w, fc2_b);
  };
  return l;
}

ModelLayer gpt_head(const ModelSpec& m, int layer, std::uint64_t seed) {
  const std::int64_t d = m.d_model;
  torch::Tensor w;
  if (m.tie_weights) {
    w = param(draw_wte(m, seed));
  } else {
    torch::manual_seed(layer_seed(seed, layer));
    w = param(normal({m.vocab, d}, 0.02));
  }
  auto ln_w = param(torch::ones({d})), ln_b = param(torch::zeros({d}));
  ModelLayer l;
  l.params = {ln_w, ln_b, w};
  auto slot = std::make_shared<torch::Tensor>(w);
  if (m.tie_weights) {
    l.tied_weight = w;
    l.tied_slot = slot;
  }
  l.forward = [=](const torch::Tensor& x) {
    return torch::linear(torch::layer_norm(x, {d}, ln_w, ln_b, 1e-5), *slot);
  };
  return l;
}

ModelLayer mlp_layer(const ModelSpec& m, int layer, std::uint64_t seed) {
  torch::manual_seed(layer_seed(seed, layer));
  const std::int64_t in = layer == 0 ? m.mlp_in : m.mlp_hidden;
  const bool last = layer == m.mlp_layers - 1;
  const std::int64_t out = last ? m.mlp_classes : m.mlp_hidden;
  auto w = param(normal({out, in}, 1.0 / std::sqrt(static_cast<double>(in))));
  auto b = param(torch::zeros({out}));
  ModelLayer l;
  l.params = {w, b};
  l.forward = [w, b, last](const torch::Tensor& x) {
    auto y = torch::linear(x, w, b);
    return last ? y : torch::relu(y);
  };
  return l;
}

}  // namespace

int count_script_layers(const ModelSpec& m) {
  if (m.kind != ModelKind::torchscript) return m.num_layers();
  if (m.script_files.size() != 1) return static_cast<int>(m.script_files.size());
  return static_cast<int>(script_children(m.script_files[0]).size());
}

ModelSpec resolve_model(const std::string& name, int vocab, const std::string& source) {
  ModelSpec m = model_spec_from_name(name, source);
  if (vocab) {
    if (m.kind != ModelKind::gpt)
      throw InputError("--vocab", "", "only the built-in gpt models take --vocab");
    if (vocab < 256) throw InputError("--vocab", "", "the byte tokenizer needs a vocabulary of at least 256");
    m.vocab = vocab;
  }
  if (m.kind == ModelKind::torchscript) m.script_layers = count_script_layers(m);
  return m;
}

void move_layers(std::vector<ModelLayer>& layers, const torch::Device& dev) {
  if (dev.is_cpu()) return;
  torch::NoGradGuard no_grad;
  for (auto& l : layers) {
    if (l.to_device) {
      l.to_device(dev);
      continue;
    }
    for (auto& p : l.params) p.set_data(p.data().to(dev));
  }
}

torch::ScalarType working_dtype(Precision p) {
  switch (p) {
    case Precision::bf16:
      return torch::kBFloat16;
    case Precision::fp16:
      return torch::kHalf;
    case Precision::fp32:
      break;
  }
  return torch::kFloat;
}

void cast_layers(std::vector<ModelLayer>& layers, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (auto& l : layers) {
    if (l.to_dtype) {
      l.to_dtype(dtype);
      continue;
    }
    for (auto& p : l.params)
      if (p.is_floating_point() && p.scalar_type() != dtype) p.set_data(p.data().to(dtype));
  }
}

torch::Tensor working_input(const torch::Tensor& x, torch::ScalarType dtype) {
  return x.is_floating_point() && x.scalar_type() != dtype ? x.to(dtype) : x;
}

std::string precision_unsupported(Precision p, const torch::Device& device) {
  if (p == Precision::fp32) return "";
  try {
    const auto opts = torch::TensorOptions().dtype(working_dtype(p)).device(device);
    auto w = torch::ones({4, 4}, opts).requires_grad_(true);
    auto y = torch::layer_norm(torch::linear(torch::ones({2, 4}, opts), w), {4});
    torch::softmax(y, -1).sum().backward();
    return "";
  } catch (const std::exception& e) {
    std::string what = e.what();
    return what.substr(0, what.find('\n'));
  }
}

bool fused_attention_available() {
#if TORCH_VERSION_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               bool fused) {
#if TORCH_VERSION_MAJOR >= 2
  if (fused)
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/true);
#else
  (void)fused;
#endif
  const auto T = q.size(-2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto att = torch::matmul(q, k.transpose(-2, -1)) * scale;
  auto future = torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).triu(1);
  att = torch::softmax(att.masked_fill(future, -std::numeric_limits<float>::infinity()), -1);
  return torch::matmul(att, v);
}

std::vector<ModelLayer> build_layers(const ModelSpec& m, const std::vector<int>& layers, std::uint64_t seed) {
  std::vector<ModelLayer> out;
  if (m.kind == ModelKind::torchscript) {
    const ScriptModel s = load_script_model(m);
    for (int i : layers) out.push_back(script_layer(s, i));
    return out;
  }
  for (int i : layers) {
    if (m.kind == ModelKind::mlp)
      out.push_back(mlp_layer(m, i, seed));
    else if (i == 0)
      out.push_back(gpt_embedding(m, seed));
    else if (i == m.n_layer + 1)
      out.push_back(gpt_head(m, i, seed));
    else
      out.push_back(gpt_block(m, i, seed));
  }
  return out;
}

std::vector<std::vector<std::int64_t>> layer_output_shapes(const ModelSpec& m, std::int64_t mb,
                                                           std::int64_t seq, std::uint64_t seed) {
  std::vector<std::vector<std::int64_t>> out;
  const int n = m.num_layers();
  if (m.kind == ModelKind::gpt) {
    for (int i = 0; i < n; ++i)
      out.push_back(i == n - 1 ? std::vector<std::int64_t>{mb, seq, m.vocab}
                               : std::vector<std::int64_t>{mb, seq, m.d_model});
  } else if (m.kind == ModelKind::mlp) {
    for (int i = 0; i < n; ++i) out.push_back({mb, i == n - 1 ? m.mlp_classes : m.mlp_hidden});
  } else {
    // What the load-time probe recorded (script_layers.h): a tuple travels
    // packed, [mb, sum of its elements per row].
    ModelSpec probe = m;
    probe.probe_seq = static_cast<int>(seq);
    for (const LayerOutput& o : load_script_model(probe).outputs) {
      std::vector<std::int64_t> shape{mb};
      if (o.tuple) {
        std::int64_t per_row = 0;
        for (const auto& r : o.row_shapes)
          per_row += std::accumulate(r.begin(), r.end(), std::int64_t{1}, std::multiplies<>());
        shape.push_back(per_row);
      } else {
        shape.insert(shape.end(), o.row_shapes.front().begin(), o.row_shapes.front().end());
      }
      out.push_back(shape);
    }
  }
  (void)seed;  // every layer's shape follows from the model alone
  return out;
}

torch::Tensor example_input(const ModelSpec& m, std::int64_t rows, std::int64_t seq) {
  if (m.input() != InputKind::tensors) return torch::zeros({rows, seq}, torch::kLong);
  std::vector<std::int64_t> shape{rows};
  shape.insert(shape.end(), m.sample_shape.begin(), m.sample_shape.end());
  return torch::zeros(shape, parse_dtype(m.sample_dtype, "input dtype"));
}

torch::Tensor random_input(const ModelSpec& m, std::int64_t rows, std::int64_t seq, std::uint64_t seed) {
  torch::Tensor x = example_input(m, rows, seq);
  if (!x.is_floating_point()) return x;
  torch::manual_seed(seed);
  return torch::randn_like(x);
}

torch::Tensor input_tensor(const MicroBatch& b) {
  if (b.rows) return b.rows->inputs;
  if (!b.tokens.empty())
    return torch::from_blob(const_cast<std::int64_t*>(b.tokens.data()), b.input_shape, torch::kLong).clone();
  return torch::from_blob(const_cast<float*>(b.features.data()), b.input_shape, torch::kFloat).clone();
}

torch::Tensor target_tensor(const MicroBatch& b) {
  if (b.rows) return b.rows->targets;
  return torch::from_blob(const_cast<std::int64_t*>(b.targets.data()), b.target_shape, torch::kLong).clone();
}

torch::Tensor scaled_loss(const torch::Tensor& logits, const torch::Tensor& targets, int microbatches,
                          const LossFunction& loss) {
  return loss(logits, targets) / static_cast<double>(microbatches);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(Optimizer o, const std::vector<torch::Tensor>& params,
                                                        double lr) {
  switch (o) {
    case Optimizer::sgd:
      return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(lr));
    case Optimizer::momentum:
      return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(lr).momentum(0.9));
    case Optimizer::adam:
      break;
  }
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(lr));
}

void check_model_on_data(const ModelSpec& m, const MicroBatch& b, const LossFunction& loss,
                         const std::string& data_name, const torch::Tensor& all_targets) {
  torch::NoGradGuard no_grad;
  // Loading probed every layer on a zero row (shapes); this runs the data.
  const ScriptModel sm = load_script_model(m);
  torch::Tensor x = input_tensor(b);
  std::string from = fmt::format("the inputs of {}", data_name);
  for (int i = 0; i < static_cast<int>(sm.mods.size()); ++i) {
    const std::string what = fmt::format("{} {}", shape_text(x.sizes()), dtype_name(x.scalar_type()));
    try {
      x = script_layer(sm, i).forward(x);
    } catch (const std::exception& e) {
      throw InputError(
          sm.files[i], fmt::format("layer {} ({})", i, sm.names[i]),
          fmt::format("fails on {} from {}: {}; make layer {} take what {} gives (or change that)", what,
                      from, first_line(e), i, i == 0 ? "the data" : "layer " + std::to_string(i - 1)));
    }
    from = fmt::format("layer {} ({}), which outputs it", i, sm.names[i]);
  }
  const torch::Tensor t = target_tensor(b);
  const std::string shapes =
      fmt::format("output {} {}, targets {} {}", shape_text(x.sizes()), dtype_name(x.scalar_type()),
                  shape_text(t.sizes()), dtype_name(t.scalar_type()));
  if (loss.spec() == "cross_entropy") {
    if (t.is_floating_point())
      throw InputError(
          data_name, "targets",
          fmt::format("cross_entropy takes class ids, these are floats ({}); save int64 class ids, "
                      "or use --loss mse",
                      shapes));
    const auto classes = x.dim() > 0 ? x.size(-1) : 0;
    const torch::Tensor& ids = all_targets.defined() ? all_targets : t;
    const auto lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
    if (lo < 0 || hi >= classes)
      throw InputError(data_name, "targets",
                       fmt::format("class ids run {}..{}, but the model's last layer scores {} classes ({}); "
                                   "make its output's last dimension the number of classes",
                                   lo, hi, classes, shapes));
  }
  try {
    torch::Tensor l = loss(x, t);
    if (l.numel() != 1) throw std::runtime_error("the loss is not a scalar");
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(
        data_name, "targets",
        fmt::format("the loss {} does not fit the model's {}: {}", loss.spec(), shapes, first_line(e)));
  }
}

torch::Tensor forward_layers(const std::vector<ModelLayer>& layers, torch::Tensor x) {
  for (const auto& l : layers) x = l.forward(x);
  return x;
}

torch::Tensor flat_params(const std::vector<ModelLayer>& layers) {
  std::vector<torch::Tensor> parts;
  for (const auto& l : layers)
    for (const auto& p : l.params) parts.push_back(p.detach().reshape({-1}));
  if (parts.empty()) return torch::zeros({0});
  return torch::cat(parts).clone();
}

}  // namespace pipekit
