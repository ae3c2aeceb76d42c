// Test support: run a shell command, capture stdout, stderr and exit status.
#pragma once

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pipekit::test {

struct CommandResult {
  int status = -1;  // exit status, or 128+signal
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh temporary directory, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pipekit-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline CommandResult run_command(const std::string& cmd) {
  TempDir dir;
  std::string full = cmd + " >" + dir.file("out") + " 2>" + dir.file("err") + " </dev/null";
  int raw = std::system(full.c_str());
  CommandResult r;
  if (WIFEXITED(raw))
    r.status = WEXITSTATUS(raw);
  else if (WIFSIGNALED(raw))
    r.status = 128 + WTERMSIG(raw);
  r.out = slurp(dir.file("out"));
  r.err = slurp(dir.file("err"));
  return r;
}

inline std::string pipekit_cmd(const std::string& args) {
  return std::string(PIPEKIT_BINARY) + " " + args;
}

}  // namespace pipekit::test
