#include "core/error.h"

#include <algorithm>

namespace pipekit {
namespace {
std::string compose(const std::string& source, const std::string& where, const std::string& what) {
  std::string msg = source;
  if (!where.empty()) msg += (msg.empty() ? "" : ": ") + where;
  if (!msg.empty()) msg += ": ";
  return msg + what;
}
}  // namespace

std::string script_error_line(const std::string& what) {
  const auto tb = what.find("The following operation failed in the TorchScript interpreter");
  if (tb == std::string::npos) return "";
  std::string last;
  for (std::size_t at = tb; at < what.size();) {
    const auto end = std::min(what.find('\n', at), what.size());
    const std::string line = what.substr(at, end - at);
    if (line.find("Error: ") != std::string::npos) last = line.substr(line.find_first_not_of(' '));
    at = end + 1;
  }
  return last;
}

InputError::InputError(std::string source, std::string where, std::string what)
    : std::runtime_error(compose(source, where, what)),
      source_(std::move(source)),
      where_(std::move(where)),
      problem_(std::move(what)) {}

}  // namespace pipekit
