// Profiles at unmeasured micro-batch sizes: per-layer linear interpolation.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/formats.h"
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

// Measured profiles of gpt-tiny at nine sizes (bench/interpolation_check.sh
// made them on this CPU): each inner size, left out, is predicted from its two
// neighbours (brackets b/1.5..2b) and compared with its own measurement.
TEST_CASE("interpolation predicts a measured in-between micro-batch size") {
  const std::vector<int> sizes = {2, 3, 4, 6, 8, 12, 16, 24, 32};
  std::vector<Profile> measured;
  for (int b : sizes)
    measured.push_back(
        profile_from_json(read_text_file(fmt::format("{}/profiles/cpu/interpolation/gpt-tiny_mb{}_seq64.json",
                                                     PIPEKIT_SOURCE_DIR, b)),
                          "interpolation profile"));
  auto total_ms = [](const Profile& p) {
    double t = 0;
    for (const Layer& l : p.layers) t += l.forward_ms + l.backward_ms;
    return t;
  };
  auto total_saved = [](const Profile& p) {
    double t = 0;
    for (const Layer& l : p.layers) t += static_cast<double>(l.saved_bytes);
    return t;
  };
  double worst_time = 0, worst_block = 0, worst_bytes = 0;
  for (std::size_t i = 1; i + 1 < sizes.size(); ++i) {
    const Profile got = interpolate_profile({measured[i - 1], measured[i + 1]}, sizes[i]);
    const Profile& want = measured[i];
    REQUIRE(got.layers.size() == want.layers.size());
    const double time_err = total_ms(got) / total_ms(want) - 1;
    const double bytes_err = total_saved(got) / total_saved(want) - 1;
    double block_err = 0;  // the transformer blocks, where the time is
    for (std::size_t l = 0; l < got.layers.size(); ++l)
      if (want.layers[l].kind == "TransformerBlock")
        block_err =
            std::max(block_err, std::abs((got.layers[l].forward_ms + got.layers[l].backward_ms) /
                                             (want.layers[l].forward_ms + want.layers[l].backward_ms) -
                                         1));
    MESSAGE(
        fmt::format("size {:2d} interpolated from {} and {}: model F+B {:+.1f}%, worst block {:.1f}%, "
                    "saved bytes {:+.2f}%",
                    sizes[i], sizes[i - 1], sizes[i + 1], 100 * time_err, 100 * block_err, 100 * bytes_err));
    worst_time = std::max(worst_time, std::abs(time_err));
    worst_block = std::max(worst_block, block_err);
    worst_bytes = std::max(worst_bytes, std::abs(bytes_err));
  }
  MESSAGE(fmt::format("model worst: F+B {:.1f}%, block {:.1f}%, saved bytes {:.2f}%", 100 * worst_time,
                      100 * worst_block, 100 * worst_bytes));
  // Activation bytes are affine in the batch: exact up to the allocator's rounding.
  CHECK(worst_bytes < 0.01);
  // Times: measured, so bounded by the measurement's own noise (docs/user-guide.md records the figures).
  CHECK(worst_time < 0.10);
  CHECK(worst_block < 0.15);
}
