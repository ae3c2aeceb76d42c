#include "core/json_node.h"

#include <fmt/format.h>
#include <cmath>

#include "core/error.h"

namespace pipekit {
namespace {
const char* type_name(const nlohmann::json& j) {
  return j.type_name();
}
}  // namespace

void JsonNode::fail(const std::string& what) const {
  throw InputError(*source_, path_, what);
}

void JsonNode::expect_object() const {
  if (!j_->is_object()) fail(fmt::format("expected an object, found {}", type_name(*j_)));
}

JsonNode JsonNode::at(const char* key) const {
  expect_object();
  auto it = j_->find(key);
  if (it == j_->end() || it->is_null()) fail(fmt::format("missing required field '{}'", key));
  return JsonNode(*it, path_ + "." + key, *source_);
}

std::optional<JsonNode> JsonNode::find(const char* key) const {
  expect_object();
  auto it = j_->find(key);
  if (it == j_->end() || it->is_null()) return std::nullopt;
  return JsonNode(*it, path_ + "." + key, *source_);
}

std::size_t JsonNode::size() const {
  if (!j_->is_array()) fail(fmt::format("expected an array, found {}", type_name(*j_)));
  return j_->size();
}

JsonNode JsonNode::item(std::size_t i) const {
  size();
  return JsonNode((*j_)[i], fmt::format("{}[{}]", path_, i), *source_);
}

double JsonNode::number() const {
  if (!j_->is_number()) fail(fmt::format("expected a number, found {}", type_name(*j_)));
  double v = j_->get<double>();
  if (!std::isfinite(v)) fail("number is not finite");
  return v;
}

std::int64_t JsonNode::integer() const {
  if (j_->is_number_integer()) return j_->get<std::int64_t>();
  if (j_->is_number_unsigned()) {
    auto u = j_->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) fail("integer is too large");
    return static_cast<std::int64_t>(u);
  }
  double v = number();
  if (v != std::floor(v) || std::abs(v) > 9.0e18) fail(fmt::format("expected a whole number, found {}", v));
  return static_cast<std::int64_t>(v);
}

int JsonNode::int32() const {
  std::int64_t v = integer();
  if (v < INT32_MIN || v > INT32_MAX) fail(fmt::format("{} does not fit a 32-bit integer", v));
  return static_cast<int>(v);
}

std::string JsonNode::string() const {
  if (!j_->is_string()) fail(fmt::format("expected a string, found {}", type_name(*j_)));
  return j_->get<std::string>();
}

bool JsonNode::boolean() const {
  if (!j_->is_boolean()) fail(fmt::format("expected true or false, found {}", type_name(*j_)));
  return j_->get<bool>();
}

void JsonNode::only_keys(std::initializer_list<std::string_view> allowed) const {
  expect_object();
  for (auto it = j_->begin(); it != j_->end(); ++it) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == it.key();
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(fmt::format("unknown field '{}'; known fields are {}", it.key(), list));
    }
  }
}

nlohmann::json parse_json_text(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // Translate the byte offset into line and column for a person.
    std::size_t byte = e.byte > 0 ? e.byte - 1 : 0;
    int line = 1, col = 1;
    for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    auto p = what.find("parse error");
    if (p != std::string::npos) what = what.substr(p);
    throw InputError(source, fmt::format("line {}, column {}", line, col),
                     fmt::format("not valid JSON ({})", what));
  } catch (const nlohmann::json::exception& e) {
    // e.g. out_of_range for "1e999": a number that does not fit a double is not a finite number.
    std::string what = e.what();
    auto p = what.find(']');
    throw InputError(source, "",
                     fmt::format("not valid JSON: {}; numbers must be finite",
                                 p == std::string::npos ? what : what.substr(p + 2)));
  }
}

void check_format(const JsonNode& root, std::string_view kind, int version) {
  root.expect_object();
  std::string expected = fmt::format("pipekit-{}/{}", kind, version);
  auto f = root.find("format");
  if (!f)
    root.fail(fmt::format("missing \"format\"; a {} file starts with \"format\": \"{}\"", kind, expected));
  std::string got = f->string();
  if (got == expected) return;
  std::string prefix = fmt::format("pipekit-{}/", kind);
  if (got.rfind(prefix, 0) == 0)
    f->fail(fmt::format("format version '{}' is not supported; this pipekit reads '{}'", got, expected));
  f->fail(fmt::format("this is a '{}' file, but a {} ('{}') was expected", got, kind, expected));
}

}  // namespace pipekit
