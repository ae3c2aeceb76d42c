#include "executor/model_spec.h"

#include <filesystem>
#include <map>

#include "core/error.h"

namespace pipekit {
namespace {

struct GptShape {
  int n_layer, d_model, n_head, context;
};

// GPT-2 shapes (Radford et al. 2019), with the byte-level vocabulary (256) by
// default; gpt-tiny is a CPU-test size.
const std::map<std::string, GptShape>& gpt_shapes() {
  static const std::map<std::string, GptShape> m = {
      {"gpt-tiny", {4, 64, 4, 64}},          {"gpt2-small", {12, 768, 12, 1024}},
      {"gpt2-medium", {24, 1024, 16, 1024}}, {"gpt2-large", {36, 1280, 20, 1024}},
      {"gpt2-xl", {48, 1600, 25, 1024}},
  };
  return m;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& builtin_model_names() {
  static const std::vector<std::string> names = {"gpt-tiny",   "gpt2-small", "gpt2-medium",
                                                 "gpt2-large", "gpt2-xl",    "mlp"};
  return names;
}

int ModelSpec::num_layers() const {
  switch (kind) {
    case ModelKind::gpt:
      return n_layer + 2;
    case ModelKind::mlp:
      return mlp_layers;
    case ModelKind::torchscript:
      return script_files.size() == 1 ? script_layers : static_cast<int>(script_files.size());
  }
  return 0;
}

ModelSpec model_spec_from_name(const std::string& name, const std::string& source) {
  ModelSpec m;
  m.name = name;
  if (auto it = gpt_shapes().find(name); it != gpt_shapes().end()) {
    m.kind = ModelKind::gpt;
    m.n_layer = it->second.n_layer;
    m.d_model = it->second.d_model;
    m.n_head = it->second.n_head;
    m.context = it->second.context;
    return m;
  }
  if (name == "mlp") {
    m.kind = ModelKind::mlp;
    return m;
  }
  if (name.rfind("script:", 0) == 0) {
    m.kind = ModelKind::torchscript;
    m.script_files = split_commas(name.substr(7));
    if (m.script_files.empty())
      throw InputError(source, "",
                       "'script:' needs TorchScript files: script:seq.pt or script:l0.pt,l1.pt,...");
    for (const auto& f : m.script_files) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(f, ec))
        throw InputError(source, f,
                         "TorchScript file not found (save one with torch.jit.script(m).save(path))");
    }
    return m;
  }
  std::string known;
  for (const auto& n : builtin_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError(source, "",
                   "unknown model '" + name + "'; built-in models: " + known +
                       ", or script:FILE[,FILE...] for TorchScript layers");
}

std::uint64_t layer_seed(std::uint64_t seed, int layer) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(layer) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

}  // namespace pipekit
