// pipekit run end to end: every flush schedule, on 2 and 4 ranks, with gpt-tiny
// and mlp, must leave the same parameters as one-process training (--verify
// compares stage by stage and exits non-zero on a difference); two "nodes",
// TorchScript models, the timeline/metrics files, a failing rank, and bad
// input rejected before any rank starts.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "core/formats.h"
#include "executor/gpu_transport.h"
#include "tests/executor/verify_output.h"
#include "tests/support/run_command.h"
#include "tests/support/skip.h"

using pipekit::test::CommandResult;
using pipekit::test::pipekit_cmd;
using pipekit::test::run_command;
using pipekit::test::TempDir;

namespace {

const std::string kBounded = " --timeout 60 --steps 3 ";

// Runs a verified job and checks that every stage matched.
void expect_verified(const std::string& args, int stages) {
  CommandResult r = run_command(pipekit_cmd("run" + kBounded + "--verify " + args));
  pipekit::test::check_verified(r, args, stages);
  CHECK(r.out.find("step 3/3") != std::string::npos);
}

// A Python with torch (Debian's python3-torch lives in /usr/bin/python3, which
// a pyenv or venv python3 on PATH may hide). Empty when there is none.
std::string python_with_torch() {
  for (std::string py : {"/usr/bin/python3", "python3"})
    if (run_command(py + " -c 'import torch'").status == 0) return py;
  return "";
}

}  // namespace

TEST_CASE("gpt-tiny naive on 2 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule naive --microbatches 1 --nproc 2", 2);
}
TEST_CASE("gpt-tiny gpipe (no recompute) on 2 ranks, trained on a text file, equals one process") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "It was the best of times, it was the worst of times, line " + std::to_string(i) + ".\n";
  pipekit::test::write_file(dir.file("text.txt"), text);
  expect_verified("--model gpt-tiny --schedule gpipe --microbatches 4 --seq 32 --data " +
                      dir.file("text.txt") + " --nproc 2",
                  2);
}
TEST_CASE("gpt-tiny gpipe recompute except_last on 4 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule gpipe --recompute except_last --microbatches 4 --nproc 4", 4);
}
TEST_CASE("gpt-tiny gpipe recompute always on 2 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule gpipe --recompute always --microbatches 3 --nproc 2", 2);
}
TEST_CASE("gpt-tiny 1f1b on 4 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule 1f1b --microbatches 6 --batch 6 --nproc 4", 4);
}
TEST_CASE("gpt-tiny interleaved (2 stages per rank) on 2 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule interleaved --virtual 2 --microbatches 4 --nproc 2", 4);
}
TEST_CASE("gpt-tiny zb-auto on 3 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule zb-auto --microbatches 6 --nproc 3", 3);
}
TEST_CASE("zb-auto asked for by name with --profile is ordered by the profile's costs and verifies") {
  const std::string prof = std::string(PIPEKIT_SOURCE_DIR) + "/profiles/cpu/gpt-tiny_mb2_seq64.json";
  expect_verified("--model gpt-tiny --schedule zb-auto --microbatches 6 --seq 64 --nproc 3 --profile " + prof,
                  3);
  // The profile is read for the order: one of another model is refused before any rank starts.
  const std::string other = std::string(PIPEKIT_SOURCE_DIR) + "/profiles/cpu/gpt2-small_mb1_seq32.json";
  CommandResult r = run_command(
      pipekit_cmd("run --model gpt-tiny --schedule zb-auto --microbatches 6 --nproc 3 --profile " + other));
  CHECK(r.status == 2);
  CHECK(r.err.find("the profile has 14 layers but the model has 6") != std::string::npos);
}
TEST_CASE("gpt-tiny zb-interleaved (2 chunks per rank) on 2 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule zb-interleaved --virtual 2 --microbatches 4 --nproc 2", 4);
}
TEST_CASE("gpt-tiny dualpipev (a V of 2 chunks per rank) on 3 ranks equals one process") {
  expect_verified("--model gpt-tiny --schedule dualpipev --virtual 2 --microbatches 6 --nproc 3", 6);
}
TEST_CASE("plans with a cost hint (zb-auto) and with per-stage recomputation run as planned and verify") {
  TempDir dir;
  const std::string prof = std::string(PIPEKIT_SOURCE_DIR) + "/profiles/cpu/gpt-tiny_mb2_seq64.json";
  CommandResult pr = run_command(pipekit_cmd("plan --profile " + prof +
                                             " --devices 2 --schedule zb-auto --microbatches 8 --out " +
                                             dir.file("zb.json")));
  REQUIRE(pr.status == 0);
  auto zb = nlohmann::json::parse(pipekit::read_text_file(dir.file("zb.json")));
  REQUIRE(zb["schedule"].contains("cost_hint"));  // the order is built from the profile's costs
  expect_verified("--plan " + dir.file("zb.json") + " --model gpt-tiny --seq 64 --nproc 2", 2);
  // Selective recomputation: stage 0 recomputes its forward, stage 1 keeps its activations.
  CommandResult gp =
      run_command(pipekit_cmd("plan --profile " + prof +
                              " --devices 2 --schedule gpipe --microbatches 4 --out " + dir.file("rc.json")));
  REQUIRE(gp.status == 0);
  auto rc = nlohmann::json::parse(pipekit::read_text_file(dir.file("rc.json")));
  rc["schedule"]["recompute_stages"] = {1, 0};
  pipekit::test::write_file(dir.file("rc.json"), rc.dump());
  expect_verified("--plan " + dir.file("rc.json") + " --model gpt-tiny --seq 64 --nproc 2", 2);
}
TEST_CASE("gpt-tiny with tied embedding/head across ranks equals one process") {
  expect_verified(
      "--model gpt-tiny --tie-weights --schedule 1f1b --microbatches 4 --nproc 2 --optimizer sgd --lr 0.1",
      2);
}
TEST_CASE("mlp naive on 4 ranks equals one process") {
  expect_verified("--model mlp --schedule naive --microbatches 1 --nproc 4", 4);
}
TEST_CASE("mlp gpipe recompute always on 4 ranks equals one process") {
  expect_verified("--model mlp --schedule gpipe --recompute always --microbatches 4 --nproc 4", 4);
}
TEST_CASE("mlp 1f1b on 2 ranks with sgd equals one process") {
  expect_verified("--model mlp --schedule 1f1b --microbatches 4 --nproc 2 --optimizer sgd --lr 0.05", 2);
}
TEST_CASE("mlp interleaved on 4 ranks (8 stages) equals one process") {
  expect_verified("--model mlp --schedule interleaved --virtual 2 --microbatches 4 --nproc 4", 8);
}

TEST_CASE("a hand-written schedule file runs unchanged and equals one process") {
  // Backward in reverse micro-batch order and three micro-batches: no generator
  // makes this, so the executor must follow the file, not re-derive a schedule.
  TempDir dir;
  pipekit::test::write_file(dir.file("s.txt"),
                            "rank 0: 0F0 0F1 0F2 0B2 0B1 0B0 0STEP\n"
                            "rank 1: 1F0 1F1 1F2 1B2 1B1 1B0 1STEP\n");
  expect_verified(
      "--schedule-file " + dir.file("s.txt") + " --model mlp --nproc 2 --timeline " + dir.file("t.json"), 2);
  pipekit::Timeline t = pipekit::timeline_from_json(pipekit::test::slurp(dir.file("t.json")), "t.json");
  std::vector<std::string> rank1;
  for (const auto& e : t.events)
    if (e.rank == 1 && e.stream == pipekit::Stream::compute) rank1.push_back(pipekit::to_string(e.action));
  CHECK(rank1 == std::vector<std::string>{"1F0", "1F1", "1F2", "1B2", "1B1", "1B0", "1STEP"});
}

TEST_CASE("two nodes started separately on 127.0.0.1 equal one process") {
  TempDir dir;
  // A port for the rendezvous (the launchers must agree on it): one the kernel
  // just handed out is free.
  int port = 0;
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    close(fd);
  }
  const std::string common =
      "run" + kBounded +
      "--verify --model gpt-tiny --schedule 1f1b --microbatches 4 --nproc 1 --nnodes 2 "
      "--master-addr 127.0.0.1 --master-port " +
      std::to_string(port);
  const std::string script = pipekit_cmd(common + " --node-rank 1") + " >" + dir.file("node1") +
                             " 2>&1 & n1=$!; " + pipekit_cmd(common + " --node-rank 0") +
                             "; r0=$?; wait $n1; r1=$?; " + "cat " + dir.file("node1") +
                             "; exit $((r0 | r1))";
  CommandResult r = run_command("sh -c '" + script + "'");
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("verify: pipeline equals one-process training") != std::string::npos);
  CHECK(r.out.find("stage 1 (rank 1)") != std::string::npos);
}

TEST_CASE("a TorchScript Sequential and per-layer TorchScript files run and verify") {
  const std::string python = python_with_torch();
  if (python.empty())
    PIPEKIT_SKIP("python3 with torch (Debian's python3-torch) not found to make the models");
  TempDir dir;
  const std::string py =
      "import torch, torch.nn as nn\n"
      "torch.manual_seed(0)\n"
      "m = nn.Sequential(nn.Embedding(256, 32), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), "
      "nn.Linear(32, 256))\n"
      "torch.jit.script(m).save('" +
      dir.file("seq.pt") +
      "')\n"
      "for i, c in enumerate(m):\n"
      "    torch.jit.script(c).save('" +
      dir.file("l") + "%d.pt' % i)\n";
  pipekit::test::write_file(dir.file("make.py"), py);
  REQUIRE(run_command(python + " " + dir.file("make.py")).status == 0);
  expect_verified(
      "--model script:" + dir.file("seq.pt") + " --schedule 1f1b --microbatches 4 --seq 16 --nproc 2", 2);
  std::string files;
  for (int i = 0; i < 6; ++i) files += (i ? "," : "") + dir.file("l" + std::to_string(i) + ".pt");
  expect_verified("--model script:" + files + " --schedule gpipe --microbatches 2 --seq 16 --nproc 3", 3);
}

TEST_CASE("the timeline and metrics files describe the run") {
  TempDir dir;
  CommandResult r = run_command(pipekit_cmd("run" + kBounded +
                                            "--model gpt-tiny --schedule 1f1b --microbatches 4 "
                                            "--nproc 2 --timeline " +
                                            dir.file("t.json") + " --metrics " + dir.file("m.jsonl")));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("timeline: " + dir.file("t.json")) != std::string::npos);
  pipekit::Timeline t = pipekit::timeline_from_json(pipekit::test::slurp(dir.file("t.json")), "t.json");
  CHECK(t.source == "measured");
  CHECK(t.num_ranks == 2);
  CHECK(t.num_microbatches == 4);
  // Every (stage, micro-batch) has one F and one B, on the stage's rank, in order.
  int compute = 0, sends = 0, recvs = 0;
  std::map<std::string, const pipekit::TimelineEvent*> by_action;
  for (const auto& e : t.events) {
    if (e.stream == pipekit::Stream::compute) ++compute;
    if (e.stream == pipekit::Stream::send) ++sends;
    if (e.stream == pipekit::Stream::recv) ++recvs;
    CHECK(e.end_ms >= e.start_ms);
    by_action[pipekit::to_string(e.action)] = &e;
  }
  CHECK(compute == 2 * (4 + 4 + 1));  // F, B per micro-batch and STEP, per stage
  CHECK(sends == 8);                  // activations 0->1 and gradients 1->0
  CHECK(recvs == 8);
  for (int mb = 0; mb < 4; ++mb)
    for (int s = 0; s < 2; ++s) {
      auto f = by_action.find(std::to_string(s) + "F" + std::to_string(mb));
      auto b = by_action.find(std::to_string(s) + "B" + std::to_string(mb));
      REQUIRE(f != by_action.end());
      REQUIRE(b != by_action.end());
      CHECK(f->second->rank == s);
      CHECK(f->second->end_ms <= b->second->start_ms);
    }
  // Receives are posted two compute actions ahead (passes/early_receives.h):
  // rank 1 posts micro-batch 1's activation receive before its F0 starts.
  REQUIRE(by_action.count("1RECV_F1") == 1);
  CHECK(by_action["1RECV_F1"]->start_ms <= by_action["1F0"]->start_ms);
  // Both ranks' events are on rank 0's clock: a message is received after it is sent.
  CHECK(t.meta.at("clock") == "one");
  CHECK(by_action["1RECV_F0"]->end_ms >= by_action["0SEND_F0"]->start_ms);
  CHECK(by_action["0RECV_B0"]->end_ms >= by_action["1SEND_B0"]->start_ms);
  CHECK(std::stoll(t.meta.at("peak_activation_bytes.rank0")) > 0);
  CHECK(std::stoll(t.meta.at("peak_activation_bytes.rank1")) > 0);
  CHECK(!t.memory.empty());
  std::istringstream lines(pipekit::test::slurp(dir.file("m.jsonl")));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    ++n;
    CHECK(j.at("step").get<int>() == n);
    CHECK(j.at("loss").get<double>() > 0);
    CHECK(j.at("samples_per_s").get<double>() > 0);
  }
  CHECK(n == 3);
}

TEST_CASE("recomputation keeps less activation memory than keeping every graph") {
  TempDir dir;
  auto peak = [&](const std::string& recompute) {
    const std::string file = dir.file(recompute + ".json");
    CommandResult r = run_command(pipekit_cmd("run" + kBounded +
                                              "--model gpt-tiny --schedule gpipe --microbatches 4 "
                                              "--nproc 2 --recompute " +
                                              recompute + " --timeline " + file));
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.status == 0);
    pipekit::Timeline t = pipekit::timeline_from_json(pipekit::test::slurp(file), file);
    return std::stoll(t.meta.at("peak_activation_bytes.rank0"));
  };
  const long long never = peak("never"), always = peak("always");
  MESSAGE("peak activation bytes on rank 0: never " << never << ", always " << always);
  // Four micro-batches of autograd graphs against one graph plus four inputs.
  CHECK(always * 2 < never);
}

TEST_CASE("--verify fails when the pipeline differs beyond the tolerance") {
  // Tied weights are summed in a different order than in one process, so the
  // parameters differ by rounding: a zero tolerance must catch that.
  CommandResult r =
      run_command(pipekit_cmd("run" + kBounded +
                              "--verify --tolerance 0 --tie-weights --model gpt-tiny --schedule 1f1b "
                              "--microbatches 4 --nproc 2"));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.status != 0);
  CHECK(r.out.find("MISMATCH") != std::string::npos);
  CHECK(r.err.find("rank 0 exited with status") != std::string::npos);
}

TEST_CASE("a failing rank stops the others and is named") {
  CommandResult r =
      run_command("PIPEKIT_FAIL_RANK=1 " +
                  pipekit_cmd("run" + kBounded + "--model mlp --schedule 1f1b --microbatches 2 --nproc 2"));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.status != 0);
  CHECK(r.err.find("rank 1 exited with status 7") != std::string::npos);
}

TEST_CASE("bad input fails with exit 2 before any rank starts") {
  TempDir dir;
  pipekit::Plan plan;
  plan.model = "gpt-tiny";
  plan.microbatch_size = 2;
  plan.schedule.kind = "1f1b";
  plan.schedule.microbatches = 4;
  plan.cluster = pipekit::flat_cluster(3, 1e9);
  for (int s = 0; s < 3; ++s) {
    pipekit::PlanStage st;
    st.layers = s == 0 ? std::vector<int>{0, 1} : s == 1 ? std::vector<int>{2, 3} : std::vector<int>{4, 5};
    st.ranks = {s};
    plan.stages.push_back(st);
  }
  pipekit::write_text_file(dir.file("plan.json"), pipekit::plan_to_json(plan));

  struct Case {
    std::string args, message;
  } cases[] = {
      {"--plan " + dir.file("plan.json") + " --nproc 2", "3 pipeline ranks"},
      {"--plan " + dir.file("missing.json") + " --nproc 2", "missing.json"},
      {"--model gpt-huge --nproc 2", "unknown model 'gpt-huge'"},
      {"--model script:" + dir.file("nope.pt") + " --nproc 2", "TorchScript file not found"},
      {"--model gpt-tiny --data " + dir.file("absent.txt") + " --nproc 2", "absent.txt"},
      {"--model gpt-tiny --schedule 1f1b --microbatches 4 --batch 6 --nproc 2", "equal micro-batches"},
      {"--model gpt-tiny --stages 2", "--nproc 2"},
      {"--model gpt-tiny --device tpu --nproc 2", "'tpu' is not one of cpu, cuda"},
  };
  for (const auto& c : cases) {
    CommandResult r = run_command(pipekit_cmd("run" + kBounded + c.args));
    INFO("args: " << c.args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(r.out.find("step 1/") == std::string::npos);  // no rank ran
  }
  if (!PIPEKIT_TORCH_CUDA) {  // a CPU build says so instead of failing in a rank
    CommandResult r = run_command(pipekit_cmd("run" + kBounded + "--model gpt-tiny --device cuda --nproc 2"));
    CHECK(r.status == 2);
    CHECK(r.err.find("LibTorch without CUDA") != std::string::npos);
  }
  // The plan itself runs when the world size matches.
  expect_verified("--plan " + dir.file("plan.json") + " --nproc 3", 3);
}
