#include "core/units.h"

#include <fmt/format.h>
#include <cmath>
#include <cstdlib>

namespace pipekit {

std::optional<double> parse_bytes(std::string_view text) {
  std::string s(text);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > 2 && s.substr(s.size() - 2) == "/s") s.resize(s.size() - 2);
  if (!s.empty() && (s.back() == 'B' || s.back() == 'b')) s.pop_back();
  double mult = 1;
  if (s.size() >= 2 && s.back() == 'i') {
    char u = s[s.size() - 2];
    const char* units = "KMGT";
    for (int i = 0; i < 4; ++i)
      if (u == units[i] || u == units[i] + 32) mult = std::pow(1024.0, i + 1);
    if (mult == 1) return std::nullopt;
    s.resize(s.size() - 2);
  } else if (!s.empty() && std::isalpha(static_cast<unsigned char>(s.back())) && s.back() != 'e') {
    char u = s.back();
    const char* units = "KMGT";
    for (int i = 0; i < 4; ++i)
      if (u == units[i] || u == units[i] + 32) mult = std::pow(1000.0, i + 1);
    if (mult == 1) return std::nullopt;
    s.pop_back();
  }
  const std::optional<double> v = parse_number(s);
  if (!v) return std::nullopt;
  return *v * mult;
}

std::optional<double> parse_number(std::string_view text) {
  const std::string s(text);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

std::string format_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  int i = 0;
  while (std::abs(b) >= 1000 && i < 5) b /= 1000, ++i;
  return i == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, units[i]);
}

std::string format_ms(double ms) {
  if (ms >= 10000) return fmt::format("{:.2f} s", ms / 1000);
  return fmt::format("{:.2f} ms", ms);
}

}  // namespace pipekit
