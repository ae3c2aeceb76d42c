#include "executor/tensor_data.h"

#include <fmt/format.h>
#include <torch/serialize.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "core/error.h"
#include "executor/torch_error.h"

namespace pipekit {
namespace {

const std::vector<std::pair<const char*, torch::ScalarType>>& dtypes() {
  static const std::vector<std::pair<const char*, torch::ScalarType>> d = {
      {"float32", torch::kFloat},     {"float64", torch::kDouble}, {"float16", torch::kHalf},
      {"bfloat16", torch::kBFloat16}, {"int64", torch::kLong},     {"int32", torch::kInt},
      {"int16", torch::kShort},       {"int8", torch::kChar},      {"uint8", torch::kByte}};
  return d;
}

std::string what_it_is(const c10::IValue& v) {
  return v.tagKind();
}

const char* const kHowToSave =
    "save it from Python with torch.save((inputs, targets), path) or torch.save({'inputs': x, "
    "'targets': y}, path), both tensors with the samples along dimension 0";

}  // namespace

bool is_tensor_data(const std::string& data) {
  auto ends = [&](const std::string& s) {
    return data.size() >= s.size() && data.compare(data.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".pt") || ends(".pth");
}

TensorDataset load_tensor_data(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path, "", "cannot open the data file; check the path (--data)");
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  c10::IValue v;
  try {
    v = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw InputError(path, "",
                     fmt::format("not a file torch.save wrote ({}); {}", first_line(e), kHowToSave));
  }
  c10::IValue in, tg;
  std::string where = "$";
  if (v.isTuple() || v.isList()) {
    std::vector<c10::IValue> items;
    if (v.isTuple())
      items = v.toTupleRef().elements().vec();
    else
      for (const auto& x : v.toListRef()) items.push_back(x);
    if (items.size() != 2)
      throw InputError(path, "$",
                       fmt::format("holds a {} of {} items, not (inputs, targets); {}", what_it_is(v),
                                   items.size(), kHowToSave));
    in = items[0];
    tg = items[1];
  } else if (v.isGenericDict()) {
    auto d = v.toGenericDict();
    for (const auto& e : d) {
      if (!e.key().isString()) continue;
      if (e.key().toStringRef() == "inputs") in = e.value();
      if (e.key().toStringRef() == "targets") tg = e.value();
    }
    if (in.isNone() || tg.isNone())
      throw InputError(path, "$", std::string("a dict without both 'inputs' and 'targets'; ") + kHowToSave);
  } else {
    throw InputError(path, "$",
                     fmt::format("holds a {}, not (inputs, targets); {}", what_it_is(v), kHowToSave));
  }
  if (!in.isTensor())
    throw InputError(path, "inputs", fmt::format("is a {}, not a tensor; {}", what_it_is(in), kHowToSave));
  if (!tg.isTensor())
    throw InputError(path, "targets", fmt::format("is a {}, not a tensor; {}", what_it_is(tg), kHowToSave));
  TensorDataset d;
  d.path = path;
  d.inputs = in.toTensor().contiguous();
  d.targets = tg.toTensor().contiguous();
  if (d.inputs.dim() < 1 || d.inputs.size(0) < 1)
    throw InputError(path, "inputs", "has no samples (dimension 0 is the sample index)");
  if (d.targets.dim() < 1 || d.targets.size(0) != d.inputs.size(0))
    throw InputError(path, "targets",
                     fmt::format("shape {} does not give one target per sample of inputs {}",
                                 shape_text(d.targets.sizes()), shape_text(d.inputs.sizes())));
  if (d.targets.is_complex() || d.targets.scalar_type() == torch::kBool)
    throw InputError(path, "targets", "must be integer class ids or floating-point values");
  if (!d.targets.is_floating_point()) d.targets = d.targets.to(torch::kLong);
  return d;
}

TensorRows TensorDataset::rows(std::int64_t first, std::int64_t count) const {
  const std::int64_t n = samples();
  auto idx = (torch::arange(count, torch::kLong) + first).remainder(n);
  return {inputs.index_select(0, idx).contiguous(), targets.index_select(0, idx).contiguous()};
}

std::string dtype_name(torch::ScalarType t) {
  for (const auto& [n, s] : dtypes())
    if (s == t) return n;
  return c10::toString(t);
}

torch::ScalarType parse_dtype(const std::string& name, const std::string& source) {
  std::string known;
  for (const auto& [n, s] : dtypes()) {
    if (name == n) return s;
    known += (known.empty() ? "" : ", ") + std::string(n);
  }
  throw InputError(source, "", "'" + name + "' is not a dtype pipekit knows: " + known);
}

std::string shape_text(torch::IntArrayRef shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::vector<std::int64_t> parse_sample_shape(const std::string& text, const std::string& source) {
  std::vector<std::int64_t> shape;
  std::stringstream in(text);
  for (std::string d; std::getline(in, d, ',');) {
    std::int64_t v = 0;
    try {
      std::size_t used = 0;
      v = std::stoll(d, &used);
      if (used != d.size()) v = 0;
    } catch (...) {
      v = 0;
    }
    if (v < 1)
      throw InputError(source, "",
                       "'" + text + "' is not one sample's shape: positive sizes with commas, e.g. 3,32,32");
    shape.push_back(v);
  }
  if (shape.empty()) throw InputError(source, "", "give one sample's shape, e.g. 3,32,32");
  return shape;
}

void take_inputs_of(ModelSpec& m, const TensorDataset& d) {
  m.sample_shape = d.inputs.sizes().slice(1).vec();
  m.sample_dtype = dtype_name(d.inputs.scalar_type());
}

}  // namespace pipekit
