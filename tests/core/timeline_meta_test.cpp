// Timeline meta: one spelling of every key, typed reads, clear errors.
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "core/timeline_meta.h"

using namespace pipekit;

TEST_CASE("rank and run keys are spelled in one place and read back typed") {
  CHECK(meta_key(RankMeta::page_faults, 2) == "page_faults.rank2");
  CHECK(meta_key(RankMeta::clock, 0) == "clock.rank0");
  CHECK(meta_key(RunMeta::step_times_ms) == "step_times_ms");
  Timeline t;
  set_meta(t, RankMeta::peak_activation_bytes, 3, "1234");
  set_meta(t, RunMeta::transport, "gloo");
  CHECK(t.meta.at("peak_activation_bytes.rank3") == "1234");
  CHECK(get_meta(t, RunMeta::transport) == std::optional<std::string>("gloo"));
  CHECK(!get_meta(t, RunMeta::device));
  CHECK(meta_number(t, RankMeta::peak_activation_bytes, 3) == std::optional<double>(1234));
  CHECK(!meta_number(t, RankMeta::peak_activation_bytes, 1));  // missing: no value, no error
}

TEST_CASE("a recorded number that is not one is an InputError naming the key") {
  for (const char* bad : {"junk", "-1", "nan", "1e999", ""}) {
    Timeline t;
    set_meta(t, RankMeta::page_faults, 1, bad);
    try {
      meta_number(t, RankMeta::page_faults, 1);
      FAIL("no error for '" << bad << "'");
    } catch (const InputError& e) {
      CHECK(std::string(e.where()).find("page_faults.rank1") != std::string::npos);
    }
  }
}
