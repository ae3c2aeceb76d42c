// pipekit profile: one entry per layer with positive medians, an input/weight
// input-gradient part within the full backward, exact parameter bytes, measured
// saved activations at least the layer's output, spreads in meta, a file that
// reads back with core's reader, and bad input rejected with exit status 2.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "core/formats.h"
#include "tests/support/run_command.h"

using pipekit::test::CommandResult;
using pipekit::test::pipekit_cmd;
using pipekit::test::run_command;
using pipekit::test::TempDir;

namespace {

pipekit::Profile profile_of(const std::string& args, const TempDir& dir) {
  const std::string out = dir.file("p.json");
  CommandResult r =
      run_command(pipekit_cmd("profile " + args + " --warmup 1 --repeat 3 --quiet --out " + out));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.status == 0);
  return pipekit::profile_from_json(pipekit::read_text_file(out), out);
}

void check_times_and_split(const pipekit::Profile& p) {
  for (const auto& l : p.layers) {
    INFO("layer " << l.name);
    CHECK(l.forward_ms > 0);
    CHECK(l.backward_ms > 0);
    REQUIRE(l.input_grad_ms.has_value());
    REQUIRE(l.weight_grad_ms.has_value());
    CHECK(*l.input_grad_ms >= 0);
    CHECK(*l.weight_grad_ms >= 0);
    CHECK(*l.input_grad_ms <= l.backward_ms * (1 + 1e-9));
    CHECK(l.output_bytes > 0);
    CHECK(l.saved_bytes > 0);
  }
  REQUIRE(p.meta.count("spread"));
  auto spread = nlohmann::json::parse(p.meta.at("spread"));
  REQUIRE(spread["forward_ms"]["min"].size() == p.layers.size());
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    CHECK(spread["forward_ms"]["min"][i].get<double>() <= p.layers[i].forward_ms);
    CHECK(spread["forward_ms"]["max"][i].get<double>() >= p.layers[i].forward_ms);
  }
  CHECK(p.meta.count("machine.cpu"));
  CHECK(p.meta.count("library.torch"));
  CHECK(p.meta.at("settings").find("threads 1") != std::string::npos);
}

}  // namespace

TEST_CASE("profile of mlp: 8 Linear layers with exact parameter bytes and saved >= output and input") {
  TempDir dir;
  pipekit::Profile p = profile_of("--model mlp --microbatch 4", dir);
  REQUIRE(p.layers.size() == 8);
  CHECK(p.microbatch_size == 4);
  CHECK(p.device == "cpu");
  check_times_and_split(p);
  // 32 -> 64, six 64 -> 64, 64 -> 16: weights and biases, fp32.
  std::int64_t params = 0;
  for (int i = 0; i < 8; ++i) {
    const std::int64_t in = i == 0 ? 32 : 64, out = i == 7 ? 16 : 64;
    CHECK(p.layers[i].param_bytes == (in * out + out) * 4);
    CHECK(p.layers[i].output_bytes == 4 * out * 4);
    params += in * out + out;
    if (i > 0 && i < 7) CHECK(p.layers[i].saved_bytes >= 4 * in * 4);  // at least the size of its input
    CHECK(p.layers[i].saved_bytes >= p.layers[i].output_bytes);
  }
  CHECK(pipekit::totals(p).param_bytes == params * 4);
  CHECK(p.input_bytes == 4 * 32 * 4);
}

TEST_CASE("profile of gpt-tiny: embedding and 4 blocks and head with the GPT-2 parameter count") {
  TempDir dir;
  pipekit::Profile p = profile_of("--model gpt-tiny --microbatch 2 --seq 16", dir);
  REQUIRE(p.layers.size() == 6);
  CHECK(p.seq_len == 16);
  check_times_and_split(p);
  const std::int64_t d = 64, V = 256, ctx = 64;
  const std::int64_t block =
      2 * d + 3 * d * d + 3 * d + d * d + d + 2 * d + 4 * d * d + 4 * d + 4 * d * d + d;
  CHECK(p.layers[0].param_bytes == (V * d + ctx * d) * 4);
  for (int i = 1; i <= 4; ++i) {
    CHECK(p.layers[i].param_bytes == block * 4);
    CHECK(p.layers[i].output_bytes == 2 * 16 * d * 4);
    // A block keeps far more than its output (attention probabilities, MLP hidden).
    CHECK(p.layers[i].saved_bytes > 4 * p.layers[i].output_bytes);
  }
  CHECK(p.layers[5].param_bytes == (2 * d + V * d) * 4);
  CHECK(p.layers[5].output_bytes == 2 * 16 * V * 4);  // logits
  CHECK(pipekit::totals(p).param_bytes == (V * d + ctx * d + 4 * block + 2 * d + V * d) * 4);
  // The embedding takes token ids: no input gradient.
  CHECK(*p.layers[0].input_grad_ms == 0);
  // Each layer's optimizer step (adam by default): every layer here has weights.
  CHECK(p.optimizer == "adam");
  CHECK(p.weight_copy_bytes_per_s > 0);
  for (const auto& l : p.layers) {
    INFO("layer " << l.name);
    REQUIRE(l.step_ms.has_value());
    CHECK(*l.step_ms > 0);
  }
}

TEST_CASE("profile --optimizer: sgd measures its own step, none records no step costs") {
  TempDir dir;
  pipekit::Profile sgd = profile_of("--model mlp --microbatch 2 --optimizer sgd", dir);
  CHECK(sgd.optimizer == "sgd");
  for (const auto& l : sgd.layers) CHECK(l.step_ms.value_or(-1) > 0);
  pipekit::Profile none = profile_of("--model mlp --microbatch 2 --optimizer none", dir);
  CHECK(none.optimizer.empty());
  CHECK(none.weight_copy_bytes_per_s == 0);
  for (const auto& l : none.layers) CHECK_FALSE(l.step_ms.has_value());
  CommandResult bad =
      run_command(pipekit_cmd("profile --model mlp --optimizer adagrad --out " + dir.file("x.json")));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--optimizer") != std::string::npos);
}

TEST_CASE("profile --min-time: short sweeps go on until they span it, 0 keeps exactly --repeat") {
  TempDir dir;
  const pipekit::Profile exact = profile_of("--model mlp --microbatch 2 --optimizer none --min-time 0", dir);
  REQUIRE(exact.meta.count("sweeps"));
  CHECK(exact.meta.at("sweeps").rfind("3 timed", 0) == 0);
  // An mlp sweep takes far less than 0.1 s, so 0.3 s needs more than 3.
  const pipekit::Profile timed =
      profile_of("--model mlp --microbatch 2 --optimizer none --min-time 0.3", dir);
  CHECK(std::stoi(timed.meta.at("sweeps")) > 3);
  CommandResult bad =
      run_command(pipekit_cmd("profile --model mlp --min-time -1 --out " + dir.file("x.json")));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--min-time") != std::string::npos);
}

TEST_CASE("profile: bad input exits 2") {
  TempDir dir;
  const std::string out = " --out " + dir.file("x.json");
  for (std::string args :
       {"--model nope", "--model mlp --repeat 0", "--model mlp --device tpu", "--model gpt-tiny --seq 1000",
        "--model mlp --microbatch 0", "--model mlp --threads 0"}) {
    CommandResult r = run_command(pipekit_cmd("profile " + args + out));
    INFO(args << "\n" << r.err);
    CHECK(r.status == 2);
    CHECK(!r.err.empty());
  }
}
