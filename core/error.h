// Errors a user can act on.
//
// InputError: a file or value supplied by the user is wrong. The message names
// the source (file or flag), the place inside it (line, JSON path) and what is
// wrong, and where possible how to fix it. The command line turns it into one
// line on stderr and exit status 2. Nothing else in pipekit may throw for bad
// input: readers convert library exceptions into InputError.
#pragma once

#include <stdexcept>
#include <string>

namespace pipekit {

class InputError : public std::runtime_error {
 public:
  // source: file name or "--flag"; where: "line 12", "$.layers[3].forward_ms" or ""
  InputError(std::string source, std::string where, std::string what);

  const std::string& source() const { return source_; }
  const std::string& where() const { return where_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string source_, where_, problem_;
};

// The line of a TorchScript interpreter error that says what went wrong (its
// traceback ends in "RuntimeError: ...", "ValueError: ..."), trimmed; "" when
// `what` holds no such traceback. Plain text, so that the command line can
// use it without LibTorch.
std::string script_error_line(const std::string& what);

}  // namespace pipekit
