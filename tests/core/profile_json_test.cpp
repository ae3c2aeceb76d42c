#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "core/formats.h"

using namespace pipekit;

namespace {
Profile small_profile() {
  Profile p;
  p.model = "toy";
  p.device = "cpu";
  p.microbatch_size = 4;
  p.seq_len = 16;
  p.input_bytes = 256;
  for (int i = 0; i < 3; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.kind = "Linear";
    l.forward_ms = 1.5 + i;
    l.backward_ms = 3.0 + i;
    l.input_grad_ms = 1.0 + i / 2.0;
    l.weight_grad_ms = l.backward_ms - *l.input_grad_ms;
    l.param_bytes = 1000 * (i + 1);
    l.output_bytes = 64;
    l.saved_bytes = 128;
    l.workspace_bytes = 8;
    p.layers.push_back(l);
  }
  p.meta["machine"] = "test";
  return p;
}

void expect_error(const std::string& text, const std::string& fragment) {
  CAPTURE(text);
  CHECK_THROWS_WITH_AS(profile_from_json(text, "p.json"), doctest::Contains(fragment.c_str()), InputError);
}
}  // namespace

TEST_CASE("profile JSON round-trips") {
  Profile p = small_profile();
  std::string text = profile_to_json(p);
  CHECK(text.find("\"format\": \"pipekit-profile/1\"") != std::string::npos);
  Profile back = profile_from_json(text, "p.json");
  CHECK(back.model == "toy");
  CHECK(back.microbatch_size == 4);
  REQUIRE(back.layers.size() == 3);
  CHECK(back.layers[2].forward_ms == doctest::Approx(3.5));
  CHECK(*back.layers[1].input_grad_ms == doctest::Approx(1.5));
  CHECK(back.layers[1].param_bytes == 2000);
  CHECK(back.meta.at("machine") == "test");
  CHECK(profile_to_json(back) == text);
}

TEST_CASE("profile JSON keeps the optimizer's step costs and the weight-copy rate") {
  Profile p = small_profile();
  p.optimizer = "adam";
  p.weight_copy_bytes_per_s = 2.5e9;
  p.layers[0].step_ms = 0.25;
  p.layers[2].step_ms = 0.0;  // a layer without parameters steps nothing
  Profile back = profile_from_json(profile_to_json(p), "p.json");
  CHECK(back.optimizer == "adam");
  CHECK(back.training_optimizer() == Optimizer::adam);
  CHECK(back.weight_copy_bytes_per_s == doctest::Approx(2.5e9));
  REQUIRE(back.layers[0].step_ms.has_value());
  CHECK(*back.layers[0].step_ms == doctest::Approx(0.25));
  CHECK_FALSE(back.layers[1].step_ms.has_value());
  CHECK(*back.layers[2].step_ms == 0.0);
  CHECK(profile_to_json(back) == profile_to_json(p));
  // Without step costs nothing is written, and the run's default is assumed.
  Profile plain = profile_from_json(profile_to_json(small_profile()), "p.json");
  CHECK(plain.optimizer.empty());
  CHECK(plain.training_optimizer() == Optimizer::adam);
  CHECK(profile_to_json(small_profile()).find("step_ms") == std::string::npos);
}

TEST_CASE("step costs without an optimizer, unknown optimizers and bad rates are rejected") {
  Profile p = small_profile();
  p.layers[1].step_ms = 1.0;
  std::string text = profile_to_json(p);
  expect_error(text, "names no optimizer");
  expect_error(text, "$.layers[1] ('l1')");
  p.optimizer = "adagrad";
  expect_error(profile_to_json(p), "'adagrad' is not an optimizer");
  p.optimizer = "sgd";
  p.layers[1].step_ms = -2.0;
  expect_error(profile_to_json(p), "step_ms is -2");
  p.layers[1].step_ms = 1.0;
  std::string rate = profile_to_json(p);
  rate.replace(rate.find("\"layers\""), 0, "\"weight_copy_bytes_per_s\": -1,\n ");
  expect_error(rate, "$.weight_copy_bytes_per_s");
  CHECK(profile_from_json(profile_to_json(p), "p.json").training_optimizer() == Optimizer::sgd);
}

TEST_CASE("profile totals") {
  ProfileTotals t = totals(small_profile());
  CHECK(t.layers == 3);
  CHECK(t.forward_ms == doctest::Approx(7.5));
  CHECK(t.param_bytes == 6000);
  CHECK(t.param_count == 1500);
}

TEST_CASE("bad profile JSON is rejected with file, place and problem") {
  const std::string head = R"({"format":"pipekit-profile/1","model":"m","layers":[)";
  const std::string good = R"({"name":"a","forward_ms":1,"backward_ms":2,"param_bytes":0,"output_bytes":4})";
  expect_error(head + good, "p.json: line 1");  // truncated
  expect_error("hello", "not valid JSON");      // not JSON
  expect_error("[]", "expected an object");     // wrong root type
  expect_error(R"({"model":"m","layers":[]})", "missing \"format\"");
  expect_error(R"({"format":"pipekit-profile/9","model":"m","layers":[]})",
               "version 'pipekit-profile/9' is not supported");
  expect_error(R"({"format":"pipekit-plan/1","model":"m","layers":[]})", "a profile");
  expect_error(head + "]}", "no layers");
  expect_error(R"({"format":"pipekit-profile/1","layers":[]})", "missing required field 'model'");
  expect_error(head + R"({"name":"a","forward_ms":"1","backward_ms":2,"param_bytes":0,"output_bytes":4}]})",
               "$.layers[0].forward_ms: expected a number, found string");
  expect_error(head + R"({"name":"a","forward_ms":-1,"backward_ms":2,"param_bytes":0,"output_bytes":4}]})",
               "forward_ms is -1");
  expect_error(head + R"({"name":"a","forward_ms":1e999,"backward_ms":2,"param_bytes":0,"output_bytes":4}]})",
               "numbers must be finite");
  expect_error(head + R"({"name":"a","forward_ms":1,"backward_ms":2,"param_bytes":-5,"output_bytes":4}]})",
               "param_bytes is -5");
  expect_error(head + R"({"name":"a","forward_ms":1,"backward_ms":2,"param_bytes":1.5,"output_bytes":4}]})",
               "whole number");
  expect_error(head + R"({"name":"a","forward_ms":1,"backward_ms":2,"param_bytes":0}]})",
               "missing required field 'output_bytes'");
  expect_error(head + R"({"name":"a","forwrd_ms":1,"backward_ms":2,"param_bytes":0,"output_bytes":4}]})",
               "unknown field 'forwrd_ms'");
  expect_error(
      head +
          R"({"name":"a","forward_ms":1,"backward_ms":2,"input_grad_ms":1,"param_bytes":0,"output_bytes":4}]})",
      "give both input_grad_ms and weight_grad_ms");
  expect_error(
      head +
          R"({"name":"a","forward_ms":1,"backward_ms":2,"input_grad_ms":3,"weight_grad_ms":1,"param_bytes":0,"output_bytes":4}]})",
      "cannot take longer than the full backward");
  expect_error(head + good + "," + good + R"(],"edges":[[0,5]]})",
               "edge 0 -> 5 names a layer that does not exist");
  expect_error(head + good + "," + good + R"(],"edges":[[0,1],[1,0]]})", "cycle");
  expect_error(head + good + R"(],"edges":[[0,0]]})", "feeds itself");
  expect_error(head + good + R"(],"edges":[[0]]})", "an edge is [producer, consumer]");
}

TEST_CASE("edges make a DAG, no edges make a chain") {
  Profile p = small_profile();
  CHECK(p.is_chain());
  p.edges = {{0, 1}, {0, 2}, {1, 2}};
  CHECK_FALSE(p.is_chain());
  Profile back = profile_from_json(profile_to_json(p), "p.json");
  CHECK(back.edges == p.edges);
}
