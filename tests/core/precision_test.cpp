// Precision: names, element sizes and the bytes a parameter costs, by term.
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "core/precision.h"

using namespace pipekit;

TEST_CASE("bytes per parameter: fp32 16 with Adam, mixed 20 (2 working, 4 master, 6 gradients, 8 moments)") {
  const ParameterBytes f = bytes_per_parameter(Precision::fp32, Optimizer::adam);
  CHECK(f.weights == 4);
  CHECK(f.master == 0);
  CHECK(f.gradients == 4);
  CHECK(f.optimizer == 8);
  CHECK(f.total() == 16);
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    const ParameterBytes m = bytes_per_parameter(p, Optimizer::adam);
    CHECK(m.weights == 2);
    CHECK(m.master == 4);
    CHECK(m.gradients == 6);
    CHECK(m.optimizer == 8);
    CHECK(m.total() == 20);
  }
  CHECK(bytes_per_parameter(Precision::bf16, Optimizer::sgd).total() == 12);
  CHECK(bytes_per_parameter(Precision::fp32, Optimizer::momentum).optimizer == 4);
  CHECK(parameter_count(2000, Precision::bf16) == 1000);
  CHECK(parameter_count(2000, Precision::fp32) == 500);
}

TEST_CASE("precision names, with their long spellings, and a clear error for others") {
  Precision p = Precision::fp32;
  CHECK(precision_from_string("bfloat16", p));
  CHECK(p == Precision::bf16);
  CHECK(precision_from_string("fp16", p));
  CHECK(p == Precision::fp16);
  CHECK(element_bytes(Precision::fp16) == 2);
  CHECK(!mixed(Precision::fp32));
  CHECK(to_string(Precision::bf16) == "bf16");
  try {
    parse_precision("fp8", "--precision");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.source()) == "--precision");
    CHECK(std::string(e.what()).find("use fp32, bf16 or fp16") != std::string::npos);
  }
}
