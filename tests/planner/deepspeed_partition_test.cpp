// DeepSpeed's partition methods.
#include <doctest/doctest.h>

#include "core/error.h"
#include "planner/deepspeed_partition.h"
#include "tests/support/planner_test_support.h"

using namespace pipekit;

TEST_CASE("uniform: floor(n/p) layers each, the first n mod p stages one more") {
  CHECK(deepspeed_partition_uniform(10, 4) == std::vector<int>{0, 3, 6, 8, 10});
  CHECK(deepspeed_partition_uniform(8, 4) == std::vector<int>{0, 2, 4, 6, 8});
  CHECK(deepspeed_partition_uniform(3, 4) == std::vector<int>{0, 1, 2, 3, 3});
}

TEST_CASE("balanced: smallest spread between the heaviest and lightest part") {
  CHECK(deepspeed_partition_balanced({1, 1, 1, 1}, 4) == std::vector<int>{0, 1, 2, 3, 4});
  const auto five = deepspeed_partition_balanced({1, 1, 1, 1, 1}, 4);
  CHECK((five == std::vector<int>{0, 1, 2, 3, 5} || five == std::vector<int>{0, 2, 3, 4, 5}));
  CHECK(deepspeed_partition_balanced({1, 2, 1}, 4) == std::vector<int>{0, 1, 2, 3, 3});
  // [5,1,1,1,1,1,1,5] into 3: parts 5, 6, 5 (spread 1) is the best possible.
  const auto parts = deepspeed_partition_balanced({5, 1, 1, 1, 1, 1, 1, 5}, 3);
  REQUIRE(parts.size() == 4);
  std::vector<double> w{5, 1, 1, 1, 1, 1, 1, 5};
  double hi = 0, lo = 1e9;
  for (int s = 0; s < 3; ++s) {
    double sum = 0;
    for (int i = parts[s]; i < parts[s + 1]; ++i) sum += w[i];
    hi = std::max(hi, sum);
    lo = std::min(lo, sum);
  }
  CHECK(hi - lo == doctest::Approx(1));  // 5 | 1,1,1,1,1,1 | 5
}

TEST_CASE("parameters and type:REGEX weigh layers like DeepSpeed's PipelineModule") {
  Profile p = test::chain_profile({1, 1, 1, 1, 1, 1});
  const char* kinds[] = {"Embedding",        "TransformerBlock", "TransformerBlock",
                         "TransformerBlock", "TransformerBlock", "LMHead"};
  for (int i = 0; i < 6; ++i) p.layers[i].kind = kinds[i];
  // Two blocks per stage: the embedding joins the first, the head the last.
  CHECK(deepspeed_partition(p, "type:transformer", 2) == std::vector<int>{0, 3, 6});
  CHECK(deepspeed_partition(p, "TYPE:Transformer", 2) == std::vector<int>{0, 3, 6});
  CHECK(deepspeed_partition(p, "uniform", 4) == std::vector<int>{0, 2, 4, 5, 6});
  const std::int64_t params[] = {600, 100, 100, 100, 100, 600};
  for (int i = 0; i < 6; ++i) p.layers[i].param_bytes = params[i];
  CHECK(deepspeed_partition(p, "parameters", 3) == std::vector<int>{0, 1, 5, 6});
  CHECK_THROWS_AS(deepspeed_partition(p, "type:([", 2), InputError);
  CHECK_THROWS_AS(deepspeed_partition(p, "type:conv", 2), InputError);  // matches nothing
  CHECK_THROWS_AS(deepspeed_partition(p, "greedy", 2), InputError);
}
