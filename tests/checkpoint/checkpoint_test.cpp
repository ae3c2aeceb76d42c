// The checkpoint module without LibTorch: XXH3 digests, the manifest's format,
// durable writes (a file size limit, the test hooks), verification of a
// checkpoint against its manifest (truncated file, flipped byte, missing file,
// no manifest), committing, retention, and the choice of the checkpoint to
// resume from.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "checkpoint/catalog.h"
#include "checkpoint/checkpoint_check.h"
#include "checkpoint/commit.h"
#include "checkpoint/durable_file.h"
#include "checkpoint/file_digest.h"
#include "checkpoint/manifest.h"
#include "checkpoint/resume_choice.h"
#include "checkpoint/retention.h"
#include "core/error.h"
#include "tests/checkpoint/fake_checkpoint.h"
#include "tests/support/run_command.h"

using namespace pipekit;
using pipekit::test::flip_byte;
using pipekit::test::make_checkpoint;
using pipekit::test::TempDir;
using pipekit::test::truncate_file;
namespace fs = std::filesystem;

namespace {

// The run accepts every checkpoint whose schedule is `schedule`.
ResumeCompatibility same_schedule(const std::string& schedule) {
  return [schedule](const CheckpointManifest& m) { return run_mismatch(m.run, {{"schedule", schedule}}); };
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("XXH3-64: the reference digest of the empty input, incremental equals one shot, files") {
  CHECK(xxh3_hex("", 0) == "2d06800538d394c2");  // XXH3_64bits of no bytes, from xxHash's specification
  const std::string data(100000, 'x');
  Xxh3Digest d;
  d.update(data.data(), 12345);
  d.update(data.data() + 12345, data.size() - 12345);
  CHECK(d.hex() == xxh3_hex(data.data(), data.size()));
  CHECK(xxh3_hex("a", 1) != xxh3_hex("b", 1));
  TempDir dir;
  pipekit::test::write_file(dir.file("f"), data);
  const FileDigest f = digest_file(dir.file("f"));
  CHECK(f.error.empty());
  CHECK(f.bytes == 100000);
  CHECK(f.xxh3 == d.hex());
  CHECK(!digest_file(dir.file("missing")).error.empty());
  CHECK(is_xxh3_hex(f.xxh3));
  CHECK(!is_xxh3_hex("2D06800538D394C2"));
}

TEST_CASE("a manifest survives a round trip, and the reader refuses what it cannot trust") {
  CheckpointManifest m;
  m.step = 4;
  m.run = pipekit::test::fake_run();
  m.files = {{"stage0.pt", 10, "0123456789abcdef"}, {"stage1.pt", 20, "fedcba9876543210"}};
  const CheckpointManifest back = manifest_from_json(manifest_to_json(m), "m.json");
  CHECK(back.step == 4);
  CHECK(back.files == m.files);
  CHECK(run_mismatch(back.run, m.run).empty());

  auto refuses = [](const std::string& text, const std::string& why) {
    CAPTURE(text);
    const std::string e = error_of([&] { manifest_from_json(text, "m.json"); });
    CHECK(e.find(why) != std::string::npos);
  };
  const std::string head = R"({"format": "pipekit-checkpoint/1", "step": 2, "run": {}, "files": )";
  refuses(head + R"([{"name": "stage0.pt", "bytes": 10, "xxh3": "xyz"}]})", "16 lower-case hex digits");
  refuses(head + R"([{"name": "../x.pt", "bytes": 10, "xxh3": "0123456789abcdef"}]})",
          "not the name of a file");
  refuses(head + R"([{"name": "a", "bytes": -1, "xxh3": "0123456789abcdef"}]})", "negative");
  refuses(head + R"([{"name": "a", "bytes": 1, "xxh3": "0123456789abcdef"},
                      {"name": "a", "bytes": 1, "xxh3": "0123456789abcdef"}]})",
          "listed twice");
  refuses(head + "[]}", "at least one file");
  refuses(R"({"model": "mlp", "schedule": "1f1b", "step": 2})", "earlier pipekit");
  refuses("{", "m.json");
}

TEST_CASE("run_mismatch names the first key that differs") {
  std::string key;
  const auto have = pipekit::test::fake_run("gpipe");
  CHECK(run_mismatch(have, pipekit::test::fake_run("gpipe")).empty());
  const std::string why = run_mismatch(have, pipekit::test::fake_run("1f1b"), &key);
  CHECK(key == "schedule");
  CHECK(why == R"(schedule is "gpipe" in the checkpoint, "1f1b" in this run)");
  CHECK(run_mismatch(have, {{"seq", 64}}) == "seq is not recorded in the checkpoint, 64 in this run");
}

TEST_CASE(
    "a checkpoint is checked against its manifest: truncated, flipped byte, missing file, no manifest") {
  TempDir dir;
  const std::string root = dir.path();
  make_checkpoint(root, 1);
  const std::string ck = checkpoint_path(root, 1);
  CheckpointCheck ok = check_checkpoint(ck);
  CHECK(ok.intact());
  CHECK(ok.step == 1);
  CHECK(ok.bytes == 2010);

  SUBCASE("truncated") {
    truncate_file(ck + "/stage1.pt", 500);
    CheckpointCheck c = check_checkpoint(ck, CheckDepth::sizes);
    CHECK(c.state == CheckpointState::damaged);
    CHECK(c.summary() == "stage1.pt has 500 bytes, the manifest says 1010 (cut short)");
  }
  SUBCASE("a flipped byte: same size, another checksum") {
    flip_byte(ck + "/stage0.pt", 700);
    CHECK(check_checkpoint(ck, CheckDepth::sizes).intact());  // sizes alone cannot see it
    CheckpointCheck c = check_checkpoint(ck);
    CHECK(c.state == CheckpointState::damaged);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0].find("stage0.pt: XXH3-64 ") == 0);
    CHECK(c.problems[0].find("(its bytes changed)") != std::string::npos);
  }
  SUBCASE("a missing file") {
    fs::remove(ck + "/stage0.pt");
    CHECK(check_checkpoint(ck).summary() == "stage0.pt is missing");
  }
  SUBCASE("no manifest: incomplete") {
    fs::remove(manifest_path(ck));
    CheckpointCheck c = check_checkpoint(ck);
    CHECK(c.state == CheckpointState::incomplete);
    CHECK(c.summary().find("interrupted") != std::string::npos);
  }
  SUBCASE("an unreadable manifest") {
    pipekit::test::write_file(manifest_path(ck), "{\"format\": ");
    CheckpointCheck c = check_checkpoint(ck);
    CHECK(c.state == CheckpointState::damaged);
    CHECK(c.summary().find("manifest.json: ") == 0);
  }
  SUBCASE("a checkpoint moved to another step's name") {
    fs::rename(ck, checkpoint_path(root, 7));
    CHECK(check_checkpoint(checkpoint_path(root, 7)).summary().find("manifest.json says step 1") == 0);
  }
}

TEST_CASE("committing: latest advances only after the checkpoint verifies on disk") {
  TempDir dir;
  const std::string root = dir.path();
  make_checkpoint(root, 1);
  CHECK(read_latest(root) == 1);
  begin_checkpoint(root, 2);
  const FileDigest d = write_file_durably(checkpoint_path(root, 2) + "/stage0.pt", "abc");
  CheckpointManifest m;
  m.step = 2;
  m.files = {{"stage0.pt", d.bytes, "0000000000000000"}};  // not what is on disk
  const std::string e = error_of([&] { commit_checkpoint(root, m, 1); });
  CHECK(e.find("does not match its manifest on disk") != std::string::npos);
  CHECK(read_latest(root) == 1);
  CHECK(check_checkpoint(checkpoint_path(root, 1)).intact());  // and retention did not run
}

TEST_CASE("begin_checkpoint removes an earlier run's manifest before the files are replaced") {
  TempDir dir;
  make_checkpoint(dir.path(), 3);
  begin_checkpoint(dir.path(), 3);
  CHECK(check_checkpoint(checkpoint_path(dir.path(), 3)).state == CheckpointState::incomplete);
}

TEST_CASE("retention keeps the N newest complete checkpoints up to the new one") {
  TempDir dir;
  const std::string root = dir.path();
  for (int k = 1; k <= 3; ++k) make_checkpoint(root, k);
  fs::create_directories(checkpoint_path(root, 4));  // an interrupted write
  make_checkpoint(root, 6);                          // an earlier run's, newer than what comes next
  make_checkpoint(root, 5, "1f1b", 0);
  const auto deleted = apply_retention(root, 5, 2);
  // Kept: 5 and 3 (complete); deleted: 4 (interrupted), 2, 1; untouched: 6 (newer).
  CHECK(deleted == std::vector<std::string>{checkpoint_path(root, 1), checkpoint_path(root, 2),
                                            checkpoint_path(root, 4)});
  std::vector<int> left;
  for (const auto& e : list_checkpoints(root)) left.push_back(e.step);
  CHECK(left == std::vector<int>{6, 5, 3});
  CHECK(apply_retention(root, 5, 0).empty());  // 0 keeps all
  // Through commit: keep 1 deletes 6, 5 and 3 once 7 is complete and verified.
  make_checkpoint(root, 7, "1f1b", 1);
  left.clear();
  for (const auto& e : list_checkpoints(root)) left.push_back(e.step);
  CHECK(left == std::vector<int>{7});
}

TEST_CASE("the resume choice: newest intact, or loudly the newest intact older one") {
  TempDir dir;
  const std::string root = dir.path();
  for (int k = 1; k <= 3; ++k) make_checkpoint(root, k);

  SUBCASE("intact newest") {
    ResumeChoice c = choose_resume_checkpoint(root, same_schedule("1f1b"), false);
    CHECK(c.step == 3);
    CHECK(c.dir == checkpoint_path(root, 3));
    CHECK(!c.fell_back());
    CHECK(c.notes.empty());
  }
  SUBCASE("damaged newest: the older one, and why") {
    flip_byte(checkpoint_path(root, 3) + "/stage1.pt", 3);
    ResumeChoice c = choose_resume_checkpoint(root, same_schedule("1f1b"), false);
    CHECK(c.step == 2);
    REQUIRE(c.passed_over.size() == 1);
    CHECK(c.passed_over[0].dir == checkpoint_path(root, 3));
    CHECK(c.passed_over[0].why.find("stage1.pt: XXH3-64") == 0);
    const std::string e = error_of([&] { choose_resume_checkpoint(root, same_schedule("1f1b"), true); });
    CHECK(e.find("--resume-exact: " + checkpoint_path(root, 3) + ": stage1.pt: XXH3-64") == 0);
    CHECK(e.find("not falling back") != std::string::npos);
  }
  SUBCASE("none usable: each named with why") {
    truncate_file(checkpoint_path(root, 3) + "/stage0.pt", 1);
    fs::remove(checkpoint_path(root, 2) + "/stage1.pt");
    const std::string e = error_of([&] { choose_resume_checkpoint(root, same_schedule("gpipe"), false); });
    CHECK(e.find("no checkpoint here can be resumed from") != std::string::npos);
    CHECK(e.find(checkpoint_path(root, 3) + ": stage0.pt has 1 bytes") != std::string::npos);
    CHECK(e.find(checkpoint_path(root, 2) + ": stage1.pt is missing") != std::string::npos);
    CHECK(e.find(checkpoint_path(root, 1) +
                 R"(: schedule is "1f1b" in the checkpoint, "gpipe" in this run)") != std::string::npos);
  }
  SUBCASE("newer than latest: never confirmed, not used") {
    make_checkpoint(root, 4);
    write_latest(root, 3);
    fs::create_directories(checkpoint_path(root, 5));
    ResumeChoice c = choose_resume_checkpoint(root, same_schedule("1f1b"), true);
    CHECK(c.step == 3);
    CHECK(!c.fell_back());
    REQUIRE(c.notes.size() == 2);
    CHECK(c.notes[0].find(checkpoint_path(root, 5) + " is newer than") == 0);
    CHECK(c.notes[0].find("incomplete") != std::string::npos);
    CHECK(c.notes[1].find(checkpoint_path(root, 4) + " is newer than") == 0);
    CHECK(c.notes[1].find("incomplete") == std::string::npos);
  }
  SUBCASE("latest names a checkpoint that is gone") {
    fs::remove_all(checkpoint_path(root, 3));
    write_latest(root, 3);
    ResumeChoice c = choose_resume_checkpoint(root, same_schedule("1f1b"), false);
    CHECK(c.step == 2);
    REQUIRE(c.passed_over.size() == 1);
    CHECK(c.passed_over[0].why == "it does not exist");
  }
  SUBCASE("no latest: the newest by step") {
    fs::remove(root + "/latest");
    ResumeChoice c = choose_resume_checkpoint(root, same_schedule("1f1b"), false);
    CHECK(c.step == 3);
    REQUIRE(c.notes.size() == 1);
    CHECK(c.notes[0].find("latest is missing") != std::string::npos);
  }
  SUBCASE("the choice as the launcher hands it to its ranks") {
    flip_byte(checkpoint_path(root, 3) + "/stage1.pt", 3);
    ResumeChoice c = choose_resume_checkpoint(root, same_schedule("1f1b"), false);
    ResumeChoice back = ResumeChoice::from_json(c.to_json(), "env");
    CHECK(back.step == c.step);
    CHECK(back.dir == c.dir);
    REQUIRE(back.passed_over.size() == 1);
    CHECK(back.passed_over[0].why == c.passed_over[0].why);
  }
}

TEST_CASE("no checkpoint directory, or nothing in it: --resume says to run without it first") {
  TempDir dir;
  CHECK(error_of([&] {
          choose_resume_checkpoint(dir.file("none"), same_schedule("1f1b"), false);
        }).find("no complete checkpoint here") != std::string::npos);
  CHECK(error_of([&] {
          choose_resume_checkpoint(dir.path(), same_schedule("1f1b"), false);
        }).find("no complete checkpoint here") != std::string::npos);
}

TEST_CASE("a durable write refused by a file size limit names the file and the error, leaves nothing") {
  TempDir dir;
  const std::string path = dir.file("big.pt");
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  rlimit small = old;
  small.rlim_cur = 4096;
  auto previous = std::signal(SIGXFSZ, SIG_IGN);  // as run_rank does: EFBIG instead of a signal
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string e = error_of([&] { write_file_durably(path, std::string(10000, 'x')); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  CHECK(e.find(path + ": cannot write this checkpoint file: File too large") == 0);
  CHECK(!fs::exists(path));
  CHECK(!fs::exists(path + ".tmp"));
}

TEST_CASE("write hooks: the mid point falls with part of the file under its temporary name only") {
  TempDir dir;
  const std::string path = dir.file("m.json");
  int calls = 0;
  std::uintmax_t tmp_bytes = 0;
  bool final_absent = false;
  write_file_durably(
      path, std::string(100, 'm'),
      [&](WritePoint p) {
        CHECK(p == WritePoint::mid_manifest);
        ++calls;
        tmp_bytes = fs::file_size(path + ".tmp");
        final_absent = !fs::exists(path);
      },
      WritePoint::mid_manifest);
  CHECK(calls == 1);
  CHECK(tmp_bytes == 50);
  CHECK(final_absent);
  CHECK(fs::file_size(path) == 100);
  WritePoint p = WritePoint::none;
  CHECK(write_point_from_string("before-latest", p));
  CHECK(p == WritePoint::before_latest);
  CHECK(to_string(WritePoint::mid_file) == "mid-file");
  CHECK(!write_point_from_string("later", p));
}
