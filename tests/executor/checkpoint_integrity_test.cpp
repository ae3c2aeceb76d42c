// Checkpoints a user can trust, with real runs of `pipekit run`: a damaged
// newest checkpoint (truncated file, flipped byte, missing file) is found
// before any rank starts and --resume continues from the older one with the
// losses of an uninterrupted run, or --resume-exact refuses; a checkpoint of
// another topology is refused naming each; a rank killed at any point of the
// write never leaves a checkpoint that looks complete; a write that fails
// stops the run (exit 2) and leaves the previous checkpoint untouched;
// --keep-checkpoints deletes only after a newer checkpoint is verified; a
// stage file LibTorch cannot read is named without LibTorch's stack trace.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "checkpoint/catalog.h"
#include "checkpoint/checkpoint_check.h"
#include "checkpoint/file_digest.h"
#include "checkpoint/manifest.h"
#include "tests/support/run_command.h"

using pipekit::test::CommandResult;
using pipekit::test::pipekit_cmd;
using pipekit::test::run_command;
using pipekit::test::slurp;
using pipekit::test::TempDir;
namespace fs = std::filesystem;

namespace {

CommandResult run(const std::string& args, const std::string& env = "") {
  return run_command(env + pipekit_cmd("run --timeout 60 " + args));
}

// Two ranks of the mlp: a second or two per run.
const std::string kJob = "--model mlp --schedule 1f1b --microbatches 2 --nproc 2 ";

std::string ckpt(const TempDir& dir) {
  return "--checkpoint-dir " + dir.file("ck") + " --checkpoint-every 1 ";
}

bool intact(const std::string& checkpoint) {
  return pipekit::check_checkpoint(checkpoint).intact();
}

// Losses by step from a --metrics file.
std::map<int, std::string> metric_losses(const std::string& path) {
  std::map<int, std::string> out;
  std::regex line(R"(\{"step": (\d+), "loss": ([^,]+),)");
  const std::string text = slurp(path);
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it)
    out[std::stoi((*it)[1])] = (*it)[2];
  return out;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "--resume on a damaged newest checkpoint resumes from the older one with an uninterrupted run's losses") {
  TempDir dir;
  const std::string job = "--model gpt-tiny --schedule 1f1b --microbatches 2 --nproc 2 --quiet ";
  REQUIRE(run(job + "--steps 5 --metrics " + dir.file("full.jsonl")).status == 0);
  REQUIRE(run(job + "--steps 3 " + ckpt(dir)).status == 0);
  const std::string ck = dir.file("ck");
  CHECK(slurp(ck + "/latest") == "3\n");
  const auto size = fs::file_size(ck + "/step-3/stage1.pt");
  fs::resize_file(ck + "/step-3/stage1.pt", size / 2);  // a copy that stopped halfway

  CommandResult r = run(job + "--steps 5 " + ckpt(dir) + "--resume --metrics " + dir.file("resumed.jsonl"));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.err,
            fmt::format("pipekit: warning: checkpoint {}/step-3 cannot be resumed from: stage1.pt has {} "
                        "bytes, the manifest says {} (cut short)",
                        ck, size / 2, size)));
  CHECK(has(r.err, fmt::format("resuming from the older checkpoint {}/step-2 (step 2) instead", ck)));
  CHECK(has(r.out, fmt::format("resumed from {}/step-2 after step 2", ck)));
  CHECK(!has(r.err, "frame #"));
  // The metrics say so too, on their first line.
  const std::string metrics = slurp(dir.file("resumed.jsonl"));
  CHECK(metrics.find(
            fmt::format(R"({{"event": "resume", "step": 2, "checkpoint": "{}/step-2", "fell_back": true, )"
                        R"("passed_over": [{{"checkpoint": "{}/step-3", "why": "stage1.pt has)",
                        ck, ck)) == 0);
  const auto a = metric_losses(dir.file("full.jsonl"));
  const auto b = metric_losses(dir.file("resumed.jsonl"));
  REQUIRE(a.size() == 5);
  REQUIRE(b.size() == 3);
  for (int k = 3; k <= 5; ++k) CHECK(b.at(k) == a.at(k));
  // The resumed run wrote step 3 again, whole, and went on.
  CHECK(slurp(ck + "/latest") == "5\n");
  CommandResult verify = run_command(pipekit_cmd("checkpoint verify " + ck));
  INFO(verify.out);
  CHECK(verify.status == 0);
  CommandResult list = run_command(pipekit_cmd("checkpoint list " + ck));
  CHECK(has(list.out, "2 stages, 2 ranks"));
  CHECK(has(list.out, "1f1b"));
  CHECK(has(list.out, "gpt-tiny"));
}

TEST_CASE("a flipped byte in the newest checkpoint: --resume-exact refuses (exit 2) before any rank starts") {
  TempDir dir;
  REQUIRE(run(kJob + "--quiet --steps 2 " + ckpt(dir)).status == 0);
  const std::string file = dir.file("ck/step-2/stage0.pt");
  const std::string bytes = slurp(file);
  std::string flipped = bytes;
  flipped[bytes.size() / 3] = static_cast<char>(flipped[bytes.size() / 3] ^ 0x20);
  pipekit::test::write_file(file, flipped);
  CommandResult r = run(kJob + "--steps 3 " + ckpt(dir) + "--resume-exact");
  INFO(r.out << r.err);
  CHECK(r.status == 2);
  CHECK(has(r.err,
            fmt::format("pipekit: error: --resume-exact: {}/step-2: stage0.pt: XXH3-64 ", dir.file("ck"))));
  CHECK(has(r.err, "not falling back"));
  CHECK(!has(r.out, "resumed from"));
  CHECK(!has(r.out, "step 3/3"));
  CHECK(slurp(dir.file("ck/latest")) == "2\n");
}

TEST_CASE("a missing file in the newest checkpoint: --resume falls back to the older one, saying so") {
  TempDir dir;
  REQUIRE(run(kJob + "--quiet --steps 2 " + ckpt(dir)).status == 0);
  fs::remove(dir.file("ck/step-2/stage1.pt"));
  CommandResult r = run(kJob + "--steps 3 " + ckpt(dir) + "--resume");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.err, fmt::format("checkpoint {}/step-2 cannot be resumed from: stage1.pt is missing",
                               dir.file("ck"))));
  CHECK(has(r.out, fmt::format("resumed from {}/step-1 after step 1", dir.file("ck"))));
  CHECK(has(r.out, "step 3/3"));
}

TEST_CASE("a checkpoint of another topology is refused before any rank starts, naming each and why") {
  TempDir dir;
  REQUIRE(run(kJob + "--quiet --steps 2 " + ckpt(dir)).status == 0);
  CommandResult r =
      run("--model mlp --schedule 1f1b --microbatches 2 --nproc 4 --steps 3 " + ckpt(dir) + "--resume");
  INFO(r.out << r.err);
  CHECK(r.status == 2);
  CHECK(has(r.err, "no checkpoint here can be resumed from"));
  for (int k : {1, 2})
    CHECK(has(r.err,
              fmt::format("{}/step-{}: made by another run (stages is 2 in the checkpoint, 4 in this run)",
                          dir.file("ck"), k)));
  CHECK(!has(r.out, "resumed from"));
}

TEST_CASE("a rank killed while writing a checkpoint never leaves one that looks complete") {
  struct Point {
    const char* name;
    int rank;
  };
  for (Point p : {Point{"mid-file", 1}, Point{"after-file", 1}, Point{"before-manifest", 0},
                  Point{"mid-manifest", 0}, Point{"before-latest", 0}}) {
    CAPTURE(p.name);
    TempDir dir;
    const std::string ck = dir.file("ck");
    CommandResult killed =
        run(kJob + "--quiet --steps 3 " + ckpt(dir),
            fmt::format("PIPEKIT_KILL_RANK={} PIPEKIT_KILL_AT_STEP=2 PIPEKIT_KILL_IN_CHECKPOINT={} ", p.rank,
                        p.name));
    INFO(killed.out << killed.err);
    REQUIRE(killed.status != 0);
    CHECK(has(killed.err, fmt::format("rank {} killing itself while writing the checkpoint after step 2 ({})",
                                      p.rank, p.name)));
    CHECK(has(killed.err, fmt::format("rank {} was killed by signal 9", p.rank)));
    CHECK(slurp(ck + "/latest") == "1\n");
    CHECK(intact(ck + "/step-1"));
    const pipekit::CheckpointCheck two = pipekit::check_checkpoint(ck + "/step-2");
    if (std::string(p.name) == "before-latest") {
      CHECK(two.intact());  // complete, but never confirmed: latest still names step 1
    } else {
      CHECK(two.state == pipekit::CheckpointState::incomplete);
    }
    if (std::string(p.name) == "mid-file") {
      CHECK(fs::exists(ck + "/step-2/stage1.pt.tmp"));  // part of it, under its temporary name
      CHECK(!fs::exists(ck + "/step-2/stage1.pt"));
    }
    if (std::string(p.name) == "after-file") CHECK(fs::exists(ck + "/step-2/stage1.pt"));
    if (std::string(p.name) == "mid-manifest") CHECK(fs::exists(ck + "/step-2/manifest.json.tmp"));

    CommandResult resumed = run(kJob + "--steps 3 " + ckpt(dir) + "--resume");
    INFO(resumed.out << resumed.err);
    REQUIRE(resumed.status == 0);
    CHECK(has(resumed.out, fmt::format("resumed from {}/step-1 after step 1", ck)));
    CHECK(!has(resumed.err, "pipekit: warning"));  // nothing damaged: an interrupted write is not a fallback
    CHECK(has(resumed.err, fmt::format("pipekit: note: {}/step-2 is newer than", ck)));
    CHECK(slurp(ck + "/latest") == "3\n");
    CHECK(intact(ck + "/step-2"));
    CHECK(intact(ck + "/step-3"));
  }
}

TEST_CASE("a pipedream stream killed while writing a checkpoint resumes from the previous cut") {
  TempDir dir;
  const std::string ck = dir.file("ck");
  const std::string job =
      "--model mlp --schedule pipedream --microbatches 2 --nproc 3 --steps 6 --quiet "
      "--checkpoint-dir " +
      ck + " --checkpoint-every 2 ";
  CommandResult killed =
      run(job, "PIPEKIT_KILL_RANK=2 PIPEKIT_KILL_AT_STEP=4 PIPEKIT_KILL_IN_CHECKPOINT=mid-file ");
  INFO(killed.err);
  REQUIRE(killed.status != 0);
  CHECK(slurp(ck + "/latest") == "2\n");
  CHECK(pipekit::check_checkpoint(ck + "/step-4").state == pipekit::CheckpointState::incomplete);
  CommandResult resumed = run(job + "--resume --verify");
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.status == 0);
  CHECK(has(resumed.out, fmt::format("resumed from {}/step-2 after step 2", ck)));
  CHECK(has(resumed.out, "verify: pipeline equals one-process training"));
  CHECK(intact(ck + "/step-6"));
}

TEST_CASE(
    "a checkpoint write that fails stops the run with exit 2 naming the file, the previous one "
    "untouched") {
  TempDir dir;
  const std::string ck = dir.file("ck");
  REQUIRE(run(kJob + "--quiet --steps 1 " + ckpt(dir)).status == 0);
  const std::string manifest_before = slurp(ck + "/step-1/manifest.json");
  // A file size limit far below a stage file's size (the mlp's are over 100 KiB).
  CommandResult r = run_command(
      "ulimit -f 32; " + pipekit_cmd("run --timeout 60 " + kJob + "--steps 3 " + ckpt(dir) + "--resume"));
  INFO(r.out << r.err);
  CHECK(r.status == 2);
  CHECK(std::regex_search(r.err, std::regex("pipekit: error: " + ck +
                                            "/step-2/stage[01]\\.pt: cannot write this checkpoint file: File "
                                            "too large; the run stops here")));
  CHECK(!has(r.err, "frame #"));
  CHECK(!has(r.out, "step 3/3"));  // training did not go on without its checkpoint
  CHECK(slurp(ck + "/latest") == "1\n");
  CHECK(slurp(ck + "/step-1/manifest.json") == manifest_before);
  CHECK(intact(ck + "/step-1"));
  CHECK(!fs::exists(ck + "/step-2/manifest.json"));
}

TEST_CASE("--keep-checkpoints 2 deletes older checkpoints only once a newer one is complete and verified") {
  TempDir dir;
  const std::string ck = dir.file("ck");
  CommandResult r = run(kJob + "--steps 4 --keep-checkpoints 2 " + ckpt(dir));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, fmt::format("checkpoint: deleted {}/step-1 (--keep-checkpoints 2)", ck)));
  CHECK(has(r.out, fmt::format("checkpoint: deleted {}/step-2 (--keep-checkpoints 2)", ck)));
  std::vector<int> left;
  for (const auto& e : pipekit::list_checkpoints(ck)) left.push_back(e.step);
  CHECK(left == std::vector<int>{4, 3});
  CHECK(slurp(ck + "/latest") == "4\n");

  // Killed before step 4's checkpoint was confirmed: step 3 is still there.
  TempDir dir2;
  const std::string ck2 = dir2.file("ck");
  CommandResult killed =
      run(kJob + "--quiet --steps 4 --keep-checkpoints 1 " + ckpt(dir2),
          "PIPEKIT_KILL_RANK=0 PIPEKIT_KILL_AT_STEP=4 PIPEKIT_KILL_IN_CHECKPOINT=before-latest ");
  REQUIRE(killed.status != 0);
  left.clear();
  for (const auto& e : pipekit::list_checkpoints(ck2)) left.push_back(e.step);
  CHECK(left == std::vector<int>{4, 3});
  CHECK(intact(ck2 + "/step-3"));
  CHECK(slurp(ck2 + "/latest") == "3\n");
}

TEST_CASE("a stage file LibTorch cannot read is named with what to do, without LibTorch's stack trace") {
  TempDir dir;
  const std::string ck = dir.file("ck");
  REQUIRE(run(kJob + "--quiet --steps 1 " + ckpt(dir)).status == 0);
  // Garbage that its manifest vouches for: only LibTorch's reader can tell.
  const std::string file = ck + "/step-1/stage1.pt";
  pipekit::test::write_file(file, std::string(5000, 'z'));
  const std::string mpath = ck + "/step-1/manifest.json";
  pipekit::CheckpointManifest m = pipekit::manifest_from_json(slurp(mpath), mpath);
  for (auto& f : m.files)
    if (f.name == "stage1.pt") {
      const pipekit::FileDigest d = pipekit::digest_file(file);
      f.bytes = d.bytes;
      f.xxh3 = d.xxh3;
    }
  pipekit::test::write_file(mpath, pipekit::manifest_to_json(m));
  REQUIRE(intact(ck + "/step-1"));
  CommandResult r = run(kJob + "--steps 2 " + ckpt(dir) + "--resume");
  INFO(r.out << r.err);
  CHECK(r.status == 2);
  CHECK(has(r.err, "pipekit: error: " + file + ": cannot read this checkpoint file: "));
  CHECK(has(r.err, "pipekit checkpoint verify " + ck + "/step-1"));
  CHECK(!has(r.err, "frame #"));
  CHECK(!has(r.err, "Exception raised from"));
}

TEST_CASE("a bf16 run resumes from its fp32 master weights with an uninterrupted run's losses") {
  // The stage files hold the masters; a resume that reloaded the rounded
  // working weights would lose their low bits and drift from the full run.
  TempDir dir;
  const std::string job =
      "--model gpt-tiny --precision bf16 --schedule 1f1b --microbatches 2 --nproc 2 --quiet ";
  REQUIRE(run(job + "--steps 4 --metrics " + dir.file("full.jsonl")).status == 0);
  REQUIRE(run(job + "--steps 2 " + ckpt(dir)).status == 0);
  CommandResult r = run(job + "--steps 4 " + ckpt(dir) + "--resume --metrics " + dir.file("resumed.jsonl"));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const auto a = metric_losses(dir.file("full.jsonl"));
  const auto b = metric_losses(dir.file("resumed.jsonl"));
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 2);
  for (int k = 3; k <= 4; ++k) CHECK(b.at(k) == a.at(k));
  // The same checkpoint is not resumed in another precision.
  CommandResult fp32 =
      run("--model gpt-tiny --schedule 1f1b --microbatches 2 --nproc 2 --steps 4 " + ckpt(dir) + "--resume");
  INFO(fp32.out << fp32.err);
  CHECK(fp32.status == 2);
  CHECK(has(fp32.err, "precision is \"bf16\" in the checkpoint, \"fp32\" in this run"));
}
