#include "core/error.h"

namespace pipekit {
namespace {
std::string compose(const std::string& source, const std::string& where, const std::string& what) {
  std::string msg = source;
  if (!where.empty()) msg += (msg.empty() ? "" : ": ") + where;
  if (!msg.empty()) msg += ": ";
  return msg + what;
}
}  // namespace

InputError::InputError(std::string source, std::string where, std::string what)
    : std::runtime_error(compose(source, where, what)),
      source_(std::move(source)),
      where_(std::move(where)),
      problem_(std::move(what)) {}

}  // namespace pipekit
