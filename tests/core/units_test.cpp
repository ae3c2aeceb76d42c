#include <doctest/doctest.h>

#include "core/units.h"

using namespace pipekit;

TEST_CASE("sizes parse with decimal and binary suffixes") {
  CHECK(*parse_bytes("1024") == 1024);
  CHECK(*parse_bytes("8e10") == doctest::Approx(8e10));
  CHECK(*parse_bytes("16GiB") == doctest::Approx(16.0 * 1024 * 1024 * 1024));
  CHECK(*parse_bytes("1.5GB") == doctest::Approx(1.5e9));
  CHECK(*parse_bytes("25GB/s") == doctest::Approx(25e9));
  CHECK(*parse_bytes("512M") == doctest::Approx(512e6));
  CHECK(*parse_bytes("4Ki") == 4096);
  for (const char* bad : {"", "abc", "-5", "5X", "GB", "1e999", "nan"}) CHECK_MESSAGE(!parse_bytes(bad), bad);
}

TEST_CASE("sizes and times print for people") {
  CHECK(format_bytes(553430176) == "553.4 MB");
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_ms(233.902) == "233.90 ms");
  CHECK(format_ms(12500) == "12.50 s");
}

TEST_CASE("parse_number takes a whole plain non-negative finite number") {
  CHECK(parse_number("12") == 12.0);
  CHECK(parse_number("3.5") == 3.5);
  CHECK(parse_number("1e-3") == doctest::Approx(1e-3));
  for (const std::string bad : {"", "12x", "-1", "nan", "inf", "1K", "12 "}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_number(bad).has_value());
  }
}
