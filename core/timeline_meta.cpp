#include "core/timeline_meta.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/units.h"

namespace pipekit {

std::string_view meta_prefix(RankMeta what) {
  switch (what) {
    case RankMeta::peak_activation_bytes:
      return "peak_activation_bytes.rank";
    case RankMeta::page_faults:
      return "page_faults.rank";
    case RankMeta::device:
      return "device.rank";
    case RankMeta::other_threads_cpu_ms:
      return "other_threads_cpu_ms.rank";
    case RankMeta::step_spans:
      return "step_spans.rank";
    case RankMeta::clock:
      return "clock.rank";
  }
  return "unknown.rank";
}

std::string meta_key(RankMeta what, int rank) {
  return fmt::format("{}{}", meta_prefix(what), rank);
}

std::string_view meta_key(RunMeta what) {
  switch (what) {
    case RunMeta::clock:
      return "clock";
    case RunMeta::step_times_ms:
      return "step_times_ms";
    case RunMeta::model:
      return "model";
    case RunMeta::device:
      return "device";
    case RunMeta::transport:
      return "transport";
    case RunMeta::method:
      return "method";
    case RunMeta::samples_per_step:
      return "samples_per_step";
    case RunMeta::time_per_minibatch_ms:
      return "time_per_minibatch_ms";
    case RunMeta::optimizer:
      return "optimizer";
    case RunMeta::asynchronous:
      return "asynchronous";
    case RunMeta::step_spread_ms:
      return "step_spread_ms";
  }
  return "unknown";
}

void set_meta(Timeline& t, RankMeta what, int rank, std::string value) {
  t.meta[meta_key(what, rank)] = std::move(value);
}

void set_meta(Timeline& t, RunMeta what, std::string value) {
  t.meta[std::string(meta_key(what))] = std::move(value);
}

namespace {
std::optional<std::string> find(const Timeline& t, const std::string& key) {
  auto it = t.meta.find(key);
  if (it == t.meta.end()) return std::nullopt;
  return it->second;
}
}  // namespace

std::optional<std::string> get_meta(const Timeline& t, RankMeta what, int rank) {
  return find(t, meta_key(what, rank));
}

std::optional<std::string> get_meta(const Timeline& t, RunMeta what) {
  return find(t, std::string(meta_key(what)));
}

std::optional<double> meta_number(const Timeline& t, const std::string& key) {
  const std::optional<std::string> text = find(t, key);
  if (!text) return std::nullopt;
  const std::optional<double> v = parse_number(*text);
  if (!v)
    throw InputError(
        "timeline", "$.meta." + key,
        fmt::format("\"{}\" is not a non-negative number; write the timeline with this pipekit", *text));
  return v;
}

std::optional<double> meta_number(const Timeline& t, RankMeta what, int rank) {
  return meta_number(t, meta_key(what, rank));
}

std::optional<double> meta_number(const Timeline& t, RunMeta what) {
  return meta_number(t, std::string(meta_key(what)));
}

}  // namespace pipekit
