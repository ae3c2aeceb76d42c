// Internal: a read-only view of a parsed JSON value that knows its path, so
// every reader error names the file and the JSON path ("$.layers[3].forward_ms").
// Only the readers of pipekit's formats include this (core/*_json.cpp,
// checkpoint/manifest.cpp, checkpoint/resume_choice.cpp); it pulls in nlohmann/json.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace pipekit {

class JsonNode {
 public:
  JsonNode(const nlohmann::json& j, std::string path, const std::string& source)
      : j_(&j), path_(std::move(path)), source_(&source) {}

  JsonNode at(const char* key) const;                   // required field of an object
  std::optional<JsonNode> find(const char* key) const;  // optional field; null counts as absent
  JsonNode item(std::size_t i) const;                   // element of an array
  std::size_t size() const;                             // array length (fails if not an array)

  double number() const;         // finite number
  std::int64_t integer() const;  // integral number (1e9 and 1000000000 both accepted)
  int int32() const;
  std::string string() const;
  bool boolean() const;

  void expect_object() const;
  // Fails on a key not in `allowed`, naming the allowed keys (catches typos).
  void only_keys(std::initializer_list<std::string_view> allowed) const;

  [[noreturn]] void fail(const std::string& what) const;
  const nlohmann::json& raw() const { return *j_; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* j_;
  std::string path_;
  const std::string* source_;
};

// Parses text; syntax errors become InputError with line and column.
nlohmann::json parse_json_text(std::string_view text, const std::string& source);
// Requires root to be an object with "format": "pipekit-<kind>/<version>".
void check_format(const JsonNode& root, std::string_view kind, int version);

}  // namespace pipekit

namespace pipekit {
struct Cluster;
// Shared by the cluster and plan readers/writers (a plan embeds its cluster).
nlohmann::ordered_json cluster_json_value(const Cluster& c);
Cluster cluster_from_node(const JsonNode& node);
}  // namespace pipekit
