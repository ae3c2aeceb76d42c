#include "executor/torch_error.h"

#include <c10/util/Exception.h>

#include <sstream>

namespace pipekit {

std::string first_line(const std::exception& e) {
  const auto* c10e = dynamic_cast<const c10::Error*>(&e);
  const std::string what = c10e ? c10e->what_without_backtrace() : e.what();
  std::istringstream in(what);
  std::string first, line, runtime;
  while (std::getline(in, line)) {
    if (first.empty() && line.find_first_not_of(" \t") != std::string::npos) first = line;
    for (const char* tag : {"RuntimeError: ", "ValueError: ", "IndexError: ", "TypeError: "})
      if (auto p = line.find(tag); p != std::string::npos && runtime.empty()) runtime = line.substr(p);
  }
  std::string out = runtime.empty() ? first : runtime;
  if (out.size() > 300) out = out.substr(0, 300) + "...";
  return out;
}

}  // namespace pipekit
