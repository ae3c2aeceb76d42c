// `pipekit` itself links no LibTorch: the planning commands never load it,
// and the training commands are handed over to pipekit-train (cli/main.cpp).
// Checked on what the executable links (readelf) and on what each command
// really loads (the dynamic loader's own account, LD_DEBUG=files, which also
// sees libraries opened at run time), not on time.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/run_command.h"

using namespace pipekit::test;

namespace {

const std::vector<std::string> kTorchLibraries = {"libtorch", "libc10", "libgloo", "libcaffe2"};

std::string pipedream(const std::string& name) {
  return std::string(PIPEKIT_SOURCE_DIR) + "/profiles/pipedream/" + name;
}

}  // namespace

TEST_CASE("pipekit links no LibTorch") {
  CommandResult r = run_command("readelf -d " + std::string(PIPEKIT_BINARY));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  REQUIRE(r.out.find("(NEEDED)") != std::string::npos);
  for (const auto& lib : kTorchLibraries) CHECK(r.out.find(lib) == std::string::npos);
}

TEST_CASE("the planning commands load no LibTorch while they run") {
  TempDir dir;
  const std::string plan = dir.file("plan.json");
  const std::vector<std::string> commands = {
      "--version",
      "--help",
      "inspect " + pipedream("vgg16.json"),
      "convert " + pipedream("graph/vgg16/graph.txt") + " " + dir.file("vgg16.json"),
      "plan --profile " + pipedream("vgg16.json") + " --devices 4 --bandwidth 10GB/s --out " + plan,
      "simulate --synthetic 4 --fwd 1 --bwd 2 --schedule 1f1b --microbatches 8 --timeline " +
          dir.file("t.json"),
      "viz " + dir.file("t.json") + " --html " + dir.file("t.html"),
  };
  for (const auto& args : commands) {
    CommandResult r = run_command("LD_DEBUG=files " + pipekit_cmd(args));
    INFO("pipekit " << args << "\n" << r.err.substr(0, 4000));
    CHECK(r.status == 0);
    CHECK(r.err.find("file=libc.so") != std::string::npos);  // the loader did report
    for (const auto& lib : kTorchLibraries) CHECK(r.err.find(lib) == std::string::npos);
  }
}

TEST_CASE("pipekit lists the training commands and hands them over") {
  CommandResult help = run_command(pipekit_cmd("--help"));
  for (const char* name : {"run", "profile", "corun", "plan", "simulate"})
    CHECK(help.out.find(name) != std::string::npos);
  if (PIPEKIT_TRAIN_BUILT) {
    // The same command line reaches pipekit-train, which loads LibTorch.
    CommandResult r = run_command("LD_DEBUG=files " + pipekit_cmd("run --help"));
    INFO(r.out << r.err.substr(0, 2000));
    CHECK(r.status == 0);
    CHECK(r.out.find("--schedule-file") != std::string::npos);
    CHECK(r.err.find("pipekit-train") != std::string::npos);
    CHECK(r.err.find("libtorch") != std::string::npos);
    CommandResult bad = run_command(pipekit_cmd("run --no-such-option"));
    CHECK(bad.status == 2);
  } else {
    CHECK(help.out.find("not built: needs LibTorch") != std::string::npos);
    CommandResult r = run_command(pipekit_cmd("run --model gpt-tiny"));
    CHECK(r.status == 2);
    CHECK(r.err.find("built without LibTorch") != std::string::npos);
  }
}
