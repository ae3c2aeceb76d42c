#include "checkpoint/write_point.h"

#include <array>
#include <utility>

namespace pipekit {
namespace {

constexpr std::array<std::pair<WritePoint, const char*>, 5> kNames = {{
    {WritePoint::mid_file, "mid-file"},
    {WritePoint::after_file, "after-file"},
    {WritePoint::before_manifest, "before-manifest"},
    {WritePoint::mid_manifest, "mid-manifest"},
    {WritePoint::before_latest, "before-latest"},
}};

}  // namespace

std::string to_string(WritePoint p) {
  for (const auto& [point, name] : kNames)
    if (point == p) return name;
  return "none";
}

bool write_point_from_string(const std::string& name, WritePoint& out) {
  for (const auto& [point, n] : kNames)
    if (name == n) {
      out = point;
      return true;
    }
  return false;
}

}  // namespace pipekit
