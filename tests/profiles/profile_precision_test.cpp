// A profile carried to another precision only when asked, bytes scaled, times kept.
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "profiles/profile_precision.h"

using namespace pipekit;

namespace {
Profile two_layers() {
  Profile p;
  p.model = "m";
  p.input_bytes = 64;
  for (int i = 0; i < 2; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.forward_ms = 1.5;
    l.backward_ms = 3;
    l.param_bytes = 4000;
    l.output_bytes = 400;
    l.saved_bytes = 800;
    l.workspace_bytes = 40;
    p.layers.push_back(l);
  }
  return p;
}
}  // namespace

TEST_CASE("a profile in another precision is refused unless the mismatch is allowed") {
  const Profile fp32 = two_layers();
  CHECK(profile_in_precision(fp32, Precision::fp32, false, "p.json").layers[0].param_bytes == 4000);
  try {
    profile_in_precision(fp32, Precision::bf16, false, "p.json");
    FAIL("no error");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(std::string(e.source()) == "p.json");
    CHECK(what.find("measured in fp32 and bf16 is asked for") != std::string::npos);
    CHECK(what.find("--allow-precision-mismatch") != std::string::npos);
  }
  const Profile bf16 = profile_in_precision(fp32, Precision::bf16, true, "p.json");
  CHECK(bf16.dtype == "bf16");
  CHECK(bf16.precision() == Precision::bf16);
  CHECK(bf16.layers[1].param_bytes == 2000);
  CHECK(bf16.layers[1].output_bytes == 200);
  CHECK(bf16.layers[1].saved_bytes == 400);
  CHECK(bf16.layers[1].workspace_bytes == 20);
  CHECK(bf16.layers[1].forward_ms == 1.5);  // times as measured
  CHECK(bf16.input_bytes == 64);            // model input as measured
  CHECK(bf16.meta.at("precision.scaled_from").find("fp32") == 0);
  // And back: the same numbers.
  CHECK(profile_in_precision(bf16, Precision::fp32, true, "q.json").layers[0].param_bytes == 4000);
}
