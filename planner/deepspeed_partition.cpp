#include "planner/deepspeed_partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <regex>

#include "core/error.h"

namespace pipekit {

std::vector<int> deepspeed_partition_uniform(int num_items, int num_parts) {
  std::vector<int> parts(num_parts + 1, 0);
  if (num_items <= num_parts) {
    for (int p = 0; p <= num_parts; ++p) parts[p] = std::min(p, num_items);
    return parts;
  }
  const int chunk = num_items / num_parts;
  const int residual = num_items - chunk * num_parts;
  for (int p = 0; p <= num_parts; ++p) parts[p] = p * chunk + std::min(p, residual);
  return parts;
}

std::vector<int> deepspeed_partition_balanced(const std::vector<double>& weights, int num_parts) {
  const int n = static_cast<int>(weights.size());
  const int m = num_parts;
  if (n <= m) return deepspeed_partition_uniform(n, m);
  constexpr double inf = std::numeric_limits<double>::infinity();
  std::vector<double> prefix(n + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + weights[i];
  const auto idx = [m](int i, int j) { return static_cast<std::size_t>(i) * (m + 1) + j; };
  std::vector<double> hi((n + 1) * (m + 1), inf), lo((n + 1) * (m + 1), inf), cost((n + 1) * (m + 1), inf);
  std::vector<int> pos((n + 1) * (m + 1), 0);
  hi[idx(0, 0)] = 0;
  cost[idx(0, 0)] = 0;
  for (int i = 1; i <= n; ++i)
    for (int j = 1; j <= std::min(i, m); ++j)
      for (int k = 0; k < i; ++k) {
        const double part = prefix[i] - prefix[k];
        const double h = std::max(hi[idx(k, j - 1)], part);
        const double l = std::min(lo[idx(k, j - 1)], part);
        const double c = h - l;
        if (cost[idx(i, j)] >= c) {  // ">=": the latest boundary wins ties
          cost[idx(i, j)] = c;
          hi[idx(i, j)] = h;
          lo[idx(i, j)] = l;
          pos[idx(i, j)] = k;
        }
      }
  std::vector<int> parts{n};
  for (int j = m; j >= 1; --j) parts.push_back(pos[idx(parts.back(), j)]);
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<int> deepspeed_partition(const Profile& p, const std::string& method, int num_stages) {
  if (num_stages < 1) throw InputError("--devices", "", "need at least one stage");
  const int n = static_cast<int>(p.layers.size());
  std::string lower = method;  // DeepSpeed lower-cases the method name
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "uniform") return deepspeed_partition_uniform(n, num_stages);
  std::vector<double> w(n, 0);
  if (lower == "parameters") {
    for (int i = 0; i < n; ++i) w[i] = static_cast<double>(p.layers[i].param_bytes);
    return deepspeed_partition_balanced(w, num_stages);
  }
  const std::string prefix = "type:";
  if (lower.rfind(prefix, 0) == 0) {
    const std::string pattern = method.substr(prefix.size());
    if (pattern.empty())
      throw InputError("--method", "", "type: needs a regular expression, e.g. type:transformer");
    std::regex re;
    try {
      re = std::regex(pattern, std::regex::ECMAScript | std::regex::icase);
    } catch (const std::regex_error& e) {
      throw InputError("--method", "",
                       fmt::format("'{}' is not a valid regular expression: {}", pattern, e.what()));
    }
    int matched = 0;
    for (int i = 0; i < n; ++i)
      if (std::regex_search(p.layers[i].kind, re) || std::regex_search(p.layers[i].name, re)) {
        w[i] = 1;
        ++matched;
      }
    if (matched == 0)
      throw InputError(
          "--method", "",
          fmt::format("no layer kind or name matches '{}'; check the kinds with `pipekit inspect`", pattern));
    return deepspeed_partition_balanced(w, num_stages);
  }
  throw InputError(
      "--method", "",
      fmt::format("unknown method '{}'; use dp, exact, uniform, parameters or type:REGEX", method));
}

}  // namespace pipekit
