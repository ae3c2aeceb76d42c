// `pipekit checkpoint verify` and `list` on checkpoints made by the module
// (tests/checkpoint/fake_checkpoint.h): what they print, and verify's exit
// status (0 intact, 1 damaged, 2 not a checkpoint directory).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "checkpoint/catalog.h"
#include "tests/checkpoint/fake_checkpoint.h"
#include "tests/support/run_command.h"

using namespace pipekit::test;
namespace fs = std::filesystem;

namespace {

std::string line_starting(const std::string& text, const std::string& prefix) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.compare(0, prefix.size(), prefix) == 0) return line;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return "";
}

}  // namespace

TEST_CASE("pipekit checkpoint verify: 0 when intact, 1 naming the damaged file, 2 for no checkpoints") {
  TempDir dir;
  const std::string root = dir.path();
  make_checkpoint(root, 1);
  make_checkpoint(root, 2);
  CommandResult ok = run_command(pipekit_cmd("checkpoint verify " + root));
  INFO(ok.out << ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out.find(root + "/step-2: intact: step 2, 2 files") != std::string::npos);
  CHECK(ok.out.find(root + "/latest: step 2") != std::string::npos);

  flip_byte(root + "/step-2/stage1.pt", 10);
  fs::create_directories(root + "/step-3");  // an interrupted write: reported, not a failure
  CommandResult bad = run_command(pipekit_cmd("checkpoint verify " + root));
  INFO(bad.out << bad.err);
  CHECK(bad.status == 1);
  CHECK(bad.out.find(root + "/step-2: damaged") != std::string::npos);
  CHECK(bad.out.find(root + "/step-2: stage1.pt: XXH3-64") != std::string::npos);
  CHECK(bad.out.find(root + "/step-3: incomplete (--resume never uses it)") != std::string::npos);
  CHECK(bad.out.find("--resume would fall back") != std::string::npos);
  // One checkpoint: only it.
  CHECK(run_command(pipekit_cmd("checkpoint verify " + root + "/step-1")).status == 0);
  CHECK(run_command(pipekit_cmd("checkpoint verify " + root + "/step-2")).status == 1);

  CommandResult none = run_command(pipekit_cmd("checkpoint verify " + dir.file("nothing")));
  CHECK(none.status == 2);
  CHECK(none.err.find("pipekit: error: " + dir.file("nothing") + ": no such directory") == 0);
  fs::create_directories(dir.file("empty"));
  CHECK(run_command(pipekit_cmd("checkpoint verify " + dir.file("empty"))).err.find("no checkpoints here") !=
        std::string::npos);
}

TEST_CASE("pipekit checkpoint list: step, state, model, schedule, topology, precision, size, latest") {
  TempDir dir;
  const std::string root = dir.path();
  make_checkpoint(root, 1, "gpipe");
  make_checkpoint(root, 2, "gpipe");
  truncate_file(root + "/step-1/stage0.pt", 10);
  CommandResult r = run_command(pipekit_cmd("checkpoint list " + root));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find(root + ": 2 checkpoint(s), latest step 2") == 0);
  const std::string two = line_starting(r.out, "2 ");
  for (const char* cell : {" intact ", " mlp ", " gpipe ", " 2 stages, 2 ranks ", " fp32 ", "<- latest"})
    CHECK_MESSAGE(two.find(cell) != std::string::npos, cell);
  const std::string one = line_starting(r.out, "1 ");
  CHECK(one.find(" damaged ") != std::string::npos);
  CHECK(one.find("latest") == std::string::npos);
  CHECK(r.out.find(root + "/step-1: stage0.pt has 10 bytes, the manifest says 1000 (cut short)") !=
        std::string::npos);
  CommandResult quick = run_command(pipekit_cmd("checkpoint list --quick " + root));
  CHECK(quick.out.find("sizes ok") != std::string::npos);
}

TEST_CASE("pipekit checkpoint loads no LibTorch while it runs") {
  TempDir dir;
  make_checkpoint(dir.path(), 1);
  for (const std::string args : {"checkpoint verify ", "checkpoint list "}) {
    CommandResult r = run_command("LD_DEBUG=files " + pipekit_cmd(args + dir.path()));
    INFO(args << "\n" << r.err.substr(0, 4000));
    CHECK(r.status == 0);
    CHECK(r.err.find("file=libc.so") != std::string::npos);  // the loader did report
    for (const char* lib : {"libtorch", "libc10", "libgloo"}) CHECK(r.err.find(lib) == std::string::npos);
  }
}
