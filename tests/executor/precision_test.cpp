// Mixed precision end to end (core/precision.h): bf16 pipelines equal
// one-process bf16 training for every kind of schedule, messages travel in
// bf16, precisions the device cannot compute are refused before any rank
// starts, a plan runs only in its own precision, and dynamic loss scaling
// skips an overflowing step on every rank at once.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "core/formats.h"
#include "tests/executor/verify_output.h"
#include "tests/support/run_command.h"

using pipekit::test::CommandResult;
using pipekit::test::pipekit_cmd;
using pipekit::test::run_command;
using pipekit::test::TempDir;

namespace {

const std::string kRun = "run --timeout 60 --steps 3 --model gpt-tiny --seq 16 --nproc 2 ";

void expect_verified_bf16(const std::string& args, int stages) {
  CommandResult r = run_command(pipekit_cmd(kRun + "--precision bf16 --verify " + args));
  pipekit::test::check_verified(r, args, stages);
  CHECK(r.out.find("bf16 (fp32 master weights") != std::string::npos);
}

}  // namespace

TEST_CASE("bf16 pipelines equal one-process bf16 training: gpipe, 1f1b, interleaved, zb-h1, pipedream") {
  expect_verified_bf16("--schedule gpipe --microbatches 4", 2);
  expect_verified_bf16("--schedule 1f1b --microbatches 4", 2);
  expect_verified_bf16("--schedule interleaved --virtual 2 --microbatches 4", 4);
  expect_verified_bf16("--schedule zb-h1 --microbatches 4", 2);
  expect_verified_bf16("--schedule pipedream --microbatches 2", 2);
}

TEST_CASE("bf16 with tied weights and with replicas equals one-process bf16 training") {
  expect_verified_bf16("--schedule 1f1b --microbatches 4 --tie-weights", 2);
  // Replicas round their share of a gradient to bf16 before the fp32 sum,
  // where one process rounds the whole micro-batch's once: within bf16's
  // rounding, which Adam's normalised update would magnify up to lr, and
  // which SGD keeps small (docs/user-guide.md, "Mixed precision").
  const std::string args =
      "run --timeout 60 --steps 2 --model mlp --precision bf16 --verify --schedule 1f1b --microbatches 2 "
      "--batch 8 --nproc 4 --replicas 2 ";
  CommandResult sgd = run_command(pipekit_cmd(args + "--optimizer sgd"));
  pipekit::test::check_verified(sgd, "mlp 2 stages x 2 replicas, sgd", 2);
  CommandResult adam = run_command(pipekit_cmd(args + "--optimizer adam"));
  INFO(adam.out);
  if (adam.status != 0) CHECK(adam.out.find("each replica rounds its gradient to bf16") != std::string::npos);
}

TEST_CASE("bf16 boundary tensors are half the bytes of fp32 ones") {
  auto send_bytes = [](const std::string& precision) {
    TempDir dir;
    CommandResult r = run_command(pipekit_cmd(kRun + "--schedule 1f1b --microbatches 2 --quiet --precision " +
                                              precision + " --timeline " + dir.file("t.json")));
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto t = pipekit::timeline_from_json(pipekit::test::slurp(dir.file("t.json")), "t.json");
    std::int64_t bytes = -1;
    for (const auto& e : t.events)
      if (e.stream == pipekit::Stream::send) bytes = e.bytes;
    return bytes;
  };
  const std::int64_t fp32 = send_bytes("fp32"), bf16 = send_bytes("bf16");
  REQUIRE(fp32 > 0);
  CHECK(bf16 * 2 == fp32);
}

TEST_CASE("precisions a device cannot compute, plans in another precision and bad loss scales exit 2") {
  TempDir dir;
  struct Case {
    std::string args, message;
  };
  // Debian's LibTorch 1.13 has no fp16 arithmetic on the CPU; a newer one may.
  CommandResult fp16 = run_command(pipekit_cmd(kRun + "--precision fp16"));
  INFO(fp16.out << fp16.err);
  if (fp16.status != 0) {
    CHECK(fp16.status == 2);
    CHECK(fp16.err.find("cannot train in fp16 on the cpu") != std::string::npos);
    CHECK(fp16.err.find("use --precision bf16") != std::string::npos);
  }
  const std::string plan = dir.file("plan.json");
  pipekit::test::write_file(plan, R"({"format": "pipekit-plan/1", "model": "gpt-tiny", "precision": "bf16",
          "stages": [{"layers": [0,1,2], "ranks": [0]}, {"layers": [3,4,5], "ranks": [1]}],
          "schedule": {"kind": "1f1b", "microbatches": 2}})");
  const Case cases[] = {
      {"--precision fp8", "'fp8' is not a precision"},
      {"--plan " + plan + " --precision fp32", "the plan was made for bf16, this run asks for fp32"},
      {"--precision bf16 --loss-scale huge", "'huge' is not a loss scale"},
      {"--precision bf16 --loss-scale dynamic --loss-scale-window 0", "--loss-scale-window"},
      {"--precision bf16 --loss-scale dynamic --schedule pipedream",
       "loss scaling needs every rank to decide"},
  };
  for (const auto& c : cases) {
    CommandResult r = run_command(pipekit_cmd(kRun + c.args));
    INFO(c.args << "\n" << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(r.out.find("step 1/") == std::string::npos);  // no rank ran
  }
  // The plan runs in its own precision when none is asked for.
  CommandResult ok = run_command(pipekit_cmd("run --timeout 60 --steps 2 --seq 16 --nproc 2 --plan " + plan));
  INFO(ok.out << ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out.find("bf16 (fp32 master weights") != std::string::npos);
}

TEST_CASE(
    "an inf in one rank's gradients skips the step on every rank, halves the scale, and training goes on") {
  TempDir dir;
  const std::string metrics = dir.file("m.jsonl");
  CommandResult r = run_command(
      "PIPEKIT_INJECT_INF=1:2 " +
      pipekit_cmd("run --timeout 60 --steps 4 --model gpt-tiny --seq 16 --nproc 2 --schedule 1f1b "
                  "--microbatches 4 --precision bf16 --loss-scale dynamic --loss-scale-init 1024 --verify "
                  "--metrics " +
                  metrics));
  // --verify's reference skips step 2 as well: had any rank updated there,
  // its stage would differ.
  pipekit::test::check_verified(r, "injected inf at step 2 on rank 1", 2);
  CHECK(r.out.find(
            "step 2/4  update skipped on every rank: inf/NaN gradients (rank 1); loss scale 1024 -> 512") !=
        std::string::npos);
  CHECK(r.out.find("step 4/4") != std::string::npos);
  std::map<int, nlohmann::json> lines;
  std::istringstream in(pipekit::test::slurp(metrics));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    lines[j["step"].get<int>()] = j;
  }
  REQUIRE(lines.size() == 4u);
  CHECK(lines[1]["loss_scale"] == 1024);
  CHECK(lines[2]["update_skipped"] == true);
  CHECK(lines[3]["loss_scale"] == 512);
  CHECK(lines[3]["update_skipped"] == false);
}

TEST_CASE("--compare in bf16 predicts each rank's peak activations within 10 percent") {
  // Tiny activations beside the stage's parameters: had the low-precision
  // gradients come and gone with each backward (the model counts them as
  // static), every peak would be off by more than the activations themselves.
  TempDir dir;
  const std::string out = dir.file("bf16.json");
  CommandResult r = run_command(pipekit_cmd(
      "run --model gpt-tiny --precision bf16 --schedule gpipe --microbatches 4 --batch 4 --seq 8 --nproc 2 "
      "--steps 2 --timeout 60 --quiet --compare " +
      out));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(pipekit::read_text_file(out));
  REQUIRE(j["per_rank"].size() == 2);
  for (const auto& rk : j["per_rank"]) CHECK(std::abs(rk["peak_activation_error"].get<double>()) < 0.10);
}
