// Profiles at unmeasured micro-batch sizes: per-layer linear interpolation.
#include <doctest/doctest.h>

#include "core/error.h"
#include "planner/profile_interpolation.h"

using namespace pipekit;

namespace {

// A two-layer model whose every batch-dependent quantity is affine in the size b.
Profile linear_profile(int b) {
  Profile p;
  p.model = "linear";
  p.microbatch_size = b;
  p.input_bytes = 100 * b;
  for (int i = 0; i < 2; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.forward_ms = 0.5 + 0.25 * b * (i + 1);
    l.backward_ms = 1.0 + 0.5 * b * (i + 1);
    l.input_grad_ms = 0.4 + 0.2 * b;
    l.weight_grad_ms = 0.6 + 0.3 * b;
    l.param_bytes = 4000 * (i + 1);
    l.output_bytes = 1000 * b;
    l.saved_bytes = 3000 * b + 500;
    l.workspace_bytes = 64 * b;
    p.layers.push_back(l);
  }
  return p;
}

void check_equal(const Profile& got, const Profile& want) {
  CHECK(got.microbatch_size == want.microbatch_size);
  CHECK(got.input_bytes == want.input_bytes);
  REQUIRE(got.layers.size() == want.layers.size());
  for (std::size_t i = 0; i < got.layers.size(); ++i) {
    const Layer& a = got.layers[i];
    const Layer& b = want.layers[i];
    CHECK(a.forward_ms == doctest::Approx(b.forward_ms));
    CHECK(a.backward_ms == doctest::Approx(b.backward_ms));
    REQUIRE(a.input_grad_ms.has_value());
    CHECK(*a.input_grad_ms == doctest::Approx(*b.input_grad_ms));
    CHECK(*a.weight_grad_ms == doctest::Approx(*b.weight_grad_ms));
    CHECK(a.param_bytes == b.param_bytes);
    CHECK(a.output_bytes == b.output_bytes);
    CHECK(a.saved_bytes == b.saved_bytes);
    CHECK(a.workspace_bytes == b.workspace_bytes);
  }
}

}  // namespace

TEST_CASE("interpolation is exact on data linear in the micro-batch size, between and beyond") {
  const std::vector<Profile> measured = {linear_profile(8), linear_profile(2)};
  check_equal(interpolate_profile(measured, 4), linear_profile(4));  // between
  check_equal(interpolate_profile(measured, 5), linear_profile(5));
  check_equal(interpolate_profile(measured, 16), linear_profile(16));  // beyond: the two nearest
  check_equal(interpolate_profile(measured, 1), linear_profile(1));
  // A measured size comes back as measured.
  check_equal(interpolate_profile(measured, 8), linear_profile(8));
}

TEST_CASE("interpolation uses the two nearest sizes, and clamps extrapolation at zero") {
  // Measured at 1, 2 and 4; the middle point is off the line through the ends,
  // so which pair is used shows.
  Profile a = linear_profile(1), b = linear_profile(2), c = linear_profile(4);
  b.layers[0].forward_ms = 10;
  const Profile at3 = interpolate_profile({a, b, c}, 3);
  // Between 2 (10 ms) and 4 (0.5 + 1.0 = 1.5 ms): halfway.
  CHECK(at3.layers[0].forward_ms == doctest::Approx((10 + 1.5) / 2));
  // Falling times extrapolate below zero far out: clamped.
  Profile x = linear_profile(1), y = linear_profile(2);
  y.layers[1].forward_ms = 0.1;
  x.layers[1].forward_ms = 1.0;
  CHECK(interpolate_profile({x, y}, 10).layers[1].forward_ms == 0.0);
}

TEST_CASE("interpolation refuses profiles of different models, repeated sizes and one lone size") {
  Profile a = linear_profile(1), b = linear_profile(2);
  b.layers[1].name = "other";
  CHECK_THROWS_AS(interpolate_profile({a, b}, 3), InputError);
  CHECK_THROWS_AS(interpolate_profile({a, linear_profile(1)}, 3), InputError);
  CHECK_THROWS_AS(interpolate_profile({a}, 3), InputError);
  CHECK(interpolate_profile({a}, 1).microbatch_size == 1);
}
