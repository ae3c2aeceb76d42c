// The useful line of an error LibTorch threw, for pipekit's own messages:
// never a C++ stack trace or a TorchScript traceback alone. A TorchScript
// interpreter error ends with "RuntimeError: <what went wrong>", which is the
// line kept; other errors keep their first line without the backtrace.
#pragma once

#include <exception>
#include <string>

namespace pipekit {

std::string first_line(const std::exception& e);

}  // namespace pipekit
