// Test support: checks the output of `pipekit run --verify` — the run succeeded,
// every one of `stages` stages printed an "ok" line with a relative parameter
// difference below 1e-5, and the summary says the pipeline equals one process.
#pragma once

#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <string>

#include "tests/support/run_command.h"

namespace pipekit::test {

inline void check_verified(const CommandResult& r, const std::string& args, int stages) {
  INFO("args: " << args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("verify: pipeline equals one-process training") != std::string::npos);
  std::regex ok_line(R"(verify: stage (\d+) \(rank \d+\) max \|param diff\| (\S+),.*  ok)");
  std::set<int> seen;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), ok_line), end; it != end; ++it) {
    seen.insert(std::stoi((*it)[1]));
    CHECK(std::stod((*it)[2]) < 1e-5);
  }
  CHECK(static_cast<int>(seen.size()) == stages);
}

}  // namespace pipekit::test
