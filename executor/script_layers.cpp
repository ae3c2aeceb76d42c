#include "executor/script_layers.h"

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "executor/tensor_data.h"
#include "executor/torch_error.h"

namespace pipekit {
namespace {

torch::jit::Module load_script(const std::string& file) {
  try {
    auto m = torch::jit::load(file);
    m.train(true);
    return m;
  } catch (const std::exception& e) {
    throw InputError(
        file, "", "cannot load as TorchScript (save with torch.jit.script(m).save(path)): " + first_line(e));
  }
}

std::int64_t per_row(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

std::vector<torch::Tensor> unpack(const torch::Tensor& x, const LayerOutput& spec) {
  std::vector<torch::Tensor> parts;
  std::int64_t at = 0;
  for (const auto& s : spec.row_shapes) {
    std::vector<std::int64_t> shape{x.size(0)};
    shape.insert(shape.end(), s.begin(), s.end());
    parts.push_back(x.narrow(1, at, per_row(s)).reshape(shape));
    at += per_row(s);
  }
  return parts;
}

torch::Tensor pack(const std::vector<torch::Tensor>& parts) {
  std::vector<torch::Tensor> flat;
  for (const auto& p : parts) flat.push_back(p.reshape({p.size(0), -1}).to(parts.front().scalar_type()));
  return torch::cat(flat, 1);
}

std::vector<c10::IValue> arguments(const torch::Tensor& x, const LayerOutput* in) {
  if (!in || !in->tuple) return {x};
  std::vector<c10::IValue> args;
  for (auto& t : unpack(x, *in)) args.emplace_back(t);
  return args;
}

// What a layer returned as a tensor (a tuple packed); empty and `why` set when
// it is not a tensor or a tuple of floating tensors with the rows first.
torch::Tensor as_output(const c10::IValue& y, std::int64_t rows, std::string* why, LayerOutput* spec) {
  if (y.isTensor()) {
    if (spec) *spec = {false, {y.toTensor().sizes().slice(1).vec()}};
    return y.toTensor();
  }
  if (!y.isTuple()) {
    *why = fmt::format("returned a {}, not a tensor or a tuple of tensors", y.tagKind());
    return {};
  }
  std::vector<torch::Tensor> parts;
  LayerOutput s{true, {}};
  for (const auto& e : y.toTupleRef().elements()) {
    if (!e.isTensor() || !e.toTensor().is_floating_point() || e.toTensor().dim() < 1 ||
        e.toTensor().size(0) != rows) {
      *why = fmt::format(
          "returned a tuple holding {}; a tuple may hold only floating-point tensors with the {} row(s) "
          "of the micro-batch along dimension 0",
          e.isTensor() ? fmt::format("a {} tensor {}", dtype_name(e.toTensor().scalar_type()),
                                     shape_text(e.toTensor().sizes()))
                       : std::string("a ") + e.tagKind(),
          rows);
      return {};
    }
    parts.push_back(e.toTensor());
    s.row_shapes.push_back(e.toTensor().sizes().slice(1).vec());
  }
  if (parts.empty()) {
    *why = "returned an empty tuple";
    return {};
  }
  if (spec) *spec = s;
  return pack(parts);
}

}  // namespace

std::vector<torch::jit::NameModule> script_children(const std::string& file) {
  std::vector<torch::jit::NameModule> out;
  for (const auto& c : load_script(file).named_children()) out.push_back(c);
  if (out.empty())
    throw InputError(file, "",
                     "the scripted module has no children to use as layers; script an nn.Sequential, or "
                     "pass one file per layer");
  return out;
}

ScriptModel load_script_model(const ModelSpec& m) {
  ScriptModel s;
  if (m.script_files.size() == 1) {
    for (const auto& c : script_children(m.script_files[0])) {
      s.mods.push_back(c.value);
      s.files.push_back(m.script_files[0]);
      // A Sequential names its children 0, 1, ...: their class says more.
      const bool numbered = c.name.find_first_not_of("0123456789") == std::string::npos;
      const auto type = c.value.type()->name();
      s.names.push_back(numbered && type ? type->name() : c.name);
    }
  } else {
    for (const auto& f : m.script_files) {
      s.mods.push_back(load_script(f));
      s.files.push_back(f);
      s.names.push_back(std::filesystem::path(f).stem().string());
    }
  }
  // The probe: one zero row through every layer, in eval mode, so that it
  // neither moves running statistics (BatchNorm) nor trips layers that need
  // more than one row to train; training mode is restored after it.
  torch::NoGradGuard no_grad;
  for (auto& mod : s.mods) mod.eval();
  struct TrainAgain {
    std::vector<torch::jit::Module>& mods;
    ~TrainAgain() {
      for (auto& mod : mods) mod.train(true);
    }
  } train_again{s.mods};
  torch::Tensor x = example_input(m, 1, m.probe_seq > 0 ? m.probe_seq : 8);
  const int n = static_cast<int>(s.mods.size());
  s.outputs.resize(n);
  for (int i = 0; i < n; ++i) {
    const std::string where = fmt::format("layer {} ({})", i, s.names[i]);
    const std::string from =
        i == 0 ? "the model's input" : fmt::format("layer {} ({})", i - 1, s.names[i - 1]);
    c10::IValue y;
    try {
      y = s.mods[i].forward(arguments(x, i ? &s.outputs[i - 1] : nullptr));
    } catch (const std::exception& e) {
      throw InputError(
          s.files[i], where,
          fmt::format("fails on one row of {} ({} {}): {}; make it take what {} gives", from,
                      shape_text(x.sizes()), dtype_name(x.scalar_type()), first_line(e), from) +
              (i == 0 && m.input() == InputKind::tokens
                   ? "; it is fed token ids: a model that takes other inputs needs them as --data "
                     "FILE.pt (torch.save((inputs, targets), FILE.pt)), or --input-shape to profile"
                   : ""));
    }
    std::string why;
    x = as_output(y, 1, &why, &s.outputs[i]);
    if (!why.empty())
      throw InputError(s.files[i], where,
                       why +
                           "; return one tensor, or a tuple of floating tensors (docs/user-guide.md, "
                           "\"Your own model\")");
    if (i == n - 1 && s.outputs[i].tuple)
      throw InputError(
          s.files[i], where,
          "the last layer returns a tuple, but the loss takes one tensor; return the output alone");
  }
  return s;
}

ModelLayer script_layer(const ScriptModel& s, int i) {
  ModelLayer l;
  const auto& mod = s.mods.at(i);
  for (const auto& p : mod.parameters()) l.params.push_back(p);
  auto holder = std::make_shared<torch::jit::Module>(mod);
  l.holder = holder;
  const LayerOutput in = i > 0 ? s.outputs[i - 1] : LayerOutput{};
  const std::string name = fmt::format("layer {} ({})", i, s.names[i]);
  l.forward = [holder, in, name](const torch::Tensor& x) {
    c10::IValue y = holder->forward(arguments(x, &in));
    std::string why;
    torch::Tensor out = as_output(y, x.size(0), &why, nullptr);
    if (!why.empty()) throw std::runtime_error(name + " " + why);
    return out;
  };
  // Module::to moves parameters with set_data, so the tensors in l.params stay
  // the module's; it also moves buffers, which l.params does not list.
  l.to_device = [holder](const torch::Device& d) { holder->to(d); };
  l.to_dtype = [holder](torch::ScalarType t) { holder->to(t); };
  return l;
}

}  // namespace pipekit
