// Other systems' default plans, as planner/peer_plans.h states their rules.
#include <doctest/doctest.h>

#include "core/error.h"
#include "planner/peer_plans.h"

using namespace pipekit;

namespace {

// embedding, 12 blocks, head.
Profile gpt_like() {
  Profile p;
  p.model = "gpt";
  p.microbatch_size = 1;
  auto add = [&](const std::string& name, const std::string& kind, std::int64_t params) {
    Layer l;
    l.name = name;
    l.kind = kind;
    l.forward_ms = 1;
    l.backward_ms = 2;
    l.param_bytes = params;
    p.layers.push_back(l);
  };
  add("embedding", "Embedding", 5000);
  for (int i = 0; i < 12; ++i) add("block" + std::to_string(i), "TransformerBlock", 1000);
  add("head", "Linear", 5000);
  return p;
}

std::vector<std::size_t> sizes(const Plan& p) {
  std::vector<std::size_t> out;
  for (const auto& s : p.stages) out.push_back(s.layers.size());
  return out;
}

}  // namespace

TEST_CASE("megatron: equal blocks per stage, embedding first, head last, depth dividing the blocks") {
  Plan m = peer_plan(gpt_like(), "megatron", flat_cluster(4, 1e9), 16, Precision::fp32);
  CHECK(m.schedule.kind == "1f1b");
  CHECK(sizes(m) == std::vector<std::size_t>{4, 3, 3, 4});
  // 8 devices: 12 blocks do not divide by 8, so 4 stages x 2 replicas.
  Plan m8 = peer_plan(gpt_like(), "megatron", flat_cluster(8, 1e9), 16, Precision::fp32);
  CHECK(m8.stages.size() == 4);
  CHECK(m8.stages.front().replicas == 2);
  // Each replica pipelines 8 micro-batches of the profile's size: pipekit's
  // 8 micro-batches of twice the size, split between the two replicas.
  Profile sized = gpt_like();
  sized.microbatch_size = 2;
  Plan d8 = peer_plan(sized, "megatron", flat_cluster(8, 1e9), 16, Precision::fp32);
  CHECK(d8.microbatch_size == 4);
  CHECK(d8.schedule.microbatches == 8);
  CHECK(peer_plan(sized, "megatron", flat_cluster(4, 1e9), 16, Precision::fp32).microbatch_size == 2);
  CHECK_THROWS_WITH_AS(peer_plan(sized, "megatron", flat_cluster(8, 1e9), 15, Precision::fp32),
                       doctest::Contains("do not divide among 2 data-parallel replicas"), InputError);
  Plan mi = peer_plan(gpt_like(), "megatron-interleaved", flat_cluster(2, 1e9), 16, Precision::fp32);
  CHECK(mi.schedule.kind == "interleaved");
  CHECK(mi.schedule.virtual_stages == 2);
  CHECK(sizes(mi) == std::vector<std::size_t>{4, 3, 3, 4});
}

TEST_CASE("torchtitan: blocks + 2 effective layers spread evenly, extra to the first stages") {
  // 14 units over 4 stages: 4, 4, 3, 3; minus the embedding's and the head's weight: 3, 4, 3, 2 blocks.
  Plan t = peer_plan(gpt_like(), "torchtitan", flat_cluster(4, 1e9), 16, Precision::fp32);
  CHECK(t.schedule.kind == "1f1b");
  CHECK(sizes(t) == std::vector<std::size_t>{4, 4, 3, 3});
  Plan z = peer_plan(gpt_like(), "torchtitan-zbv", flat_cluster(2, 1e9), 16, Precision::fp32);
  CHECK(z.schedule.kind == "zbv");
  CHECK(z.stages.size() == 4);
}

TEST_CASE("deepspeed: parameters balanced, and unknown peers are refused") {
  Plan d = peer_plan(gpt_like(), "deepspeed", flat_cluster(2, 1e9), 8, Precision::fp32);
  CHECK(d.stages.size() == 2);
  CHECK(sizes(d) == std::vector<std::size_t>{7, 7});
  CHECK_THROWS_AS(peer_plan(gpt_like(), "alpa", flat_cluster(2, 1e9), 8, Precision::fp32), InputError);
}
