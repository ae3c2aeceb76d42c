// Test support: Debian's python3 with python3-torch (scripts/install-deps.sh
// installs it), for tests that make TorchScript models and .pt data at test
// time. /usr/bin/python3 first: a python3 earlier on PATH (pyenv, a venv) may
// not have torch.
#pragma once

#include <cstdlib>
#include <string>

namespace pipekit::test {

// The interpreter that imports torch, or "" when none does.
inline std::string python_with_torch() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = std::string(py) + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

}  // namespace pipekit::test
