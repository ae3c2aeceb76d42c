#include "executor/torch_error.h"

#include <c10/util/Exception.h>

#include "core/error.h"

namespace pipekit {

std::string first_line(const std::exception& e) {
  const auto* c10e = dynamic_cast<const c10::Error*>(&e);
  const std::string what = c10e ? c10e->what_without_backtrace() : e.what();
  std::string out = script_error_line(what);
  if (out.empty()) {
    const auto start = std::min(what.find_first_not_of(" \t\n"), what.size());
    out = what.substr(start, what.find('\n', start) - start);
  }
  if (out.size() > 300) out = out.substr(0, 300) + "...";
  return out;
}

}  // namespace pipekit
